/* The requests every function serves, as they would arrive on the wire: a GET
 * with a query, a JSON POST, a chunked PUT that closes the connection, and a
 * request with a malformed header line that the runtime answers itself. */
#include <stddef.h>

const char *const faas_requests[] = {
	"GET /hello?name=Ada%20Lovelace&n=12&lang=en HTTP/1.1\r\n"
	"Host: faas.local\r\n"
	"User-Agent: spacer-demo/1.0\r\n"
	"Accept: */*\r\n"
	"\r\n",

	"POST /api/items?n=-7 HTTP/1.1\r\n"
	"Host: faas.local\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 111\r\n"
	"\r\n"
	"{\"name\":\"Lin\",\"items\":[3,1,4,1,5,9,2,6],"
	"\"note\":\"tab\\there \\\"quoted\\\"\","
	"\"nested\":{\"ok\":true,\"depth\":[1,[2,[3]]]}}",

	"PUT /text/words%21 HTTP/1.1\r\n"
	"Host: faas.local\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Transfer-Encoding: chunked\r\n"
	"Connection: close\r\n"
	"\r\n"
	"14\r\nthe quick brown fox\n\r\n"
	"18;part=2\r\njumps over the lazy dog\n\r\n"
	"13\r\nand the dog sleeps\n\r\n"
	"0\r\n"
	"X-Trailer: ignored\r\n"
	"\r\n",

	"GET /status HTTP/1.1\r\n"
	"Host faas.local\r\n"
	"\r\n",
};

const size_t faas_nrequests = sizeof(faas_requests) / sizeof(faas_requests[0]);
