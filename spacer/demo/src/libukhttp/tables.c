/* What the protocol names: status reasons (RFC 9110 section 15) and the media
 * types of common file extensions. */
#include <uk_http.h>
#include <string.h>

static const struct {
	short code;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" }, { 101, "Switching Protocols" },
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
	{ 205, "Reset Content" }, { 206, "Partial Content" },
	{ 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Found" },
	{ 303, "See Other" }, { 304, "Not Modified" }, { 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
	{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
	{ 411, "Length Required" }, { 412, "Precondition Failed" },
	{ 413, "Content Too Large" }, { 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" }, { 421, "Misdirected Request" },
	{ 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
	{ 428, "Precondition Required" }, { 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]), mid;

	while (lo < hi) {	/* the table is sorted by code */
		mid = (lo + hi) / 2;
		if (reasons[mid].code == status)
			return reasons[mid].reason;
		if (reasons[mid].code < status)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "Unknown";
}

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
	{ "html", "text/html" }, { "htm", "text/html" }, { "css", "text/css" },
	{ "txt", "text/plain" }, { "csv", "text/csv" }, { "md", "text/markdown" },
	{ "js", "text/javascript" }, { "mjs", "text/javascript" },
	{ "json", "application/json" }, { "xml", "application/xml" },
	{ "pdf", "application/pdf" }, { "zip", "application/zip" },
	{ "gz", "application/gzip" }, { "tar", "application/x-tar" },
	{ "wasm", "application/wasm" }, { "bin", "application/octet-stream" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "webp", "image/webp" },
	{ "ico", "image/vnd.microsoft.icon" }, { "woff", "font/woff" },
	{ "woff2", "font/woff2" }, { "mp3", "audio/mpeg" }, { "ogg", "audio/ogg" },
	{ "mp4", "video/mp4" }, { "webm", "video/webm" },
};

const char *http_mime_type(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	size_t i;

	if (!dot || (slash && slash > dot))
		return "application/octet-stream";
	for (i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
		if (!strcasecmp(mime_types[i].ext, dot + 1))
			return mime_types[i].type;
	return "application/octet-stream";
}
