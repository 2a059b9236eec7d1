"""The demo's function family: many small handlers on one large runtime, as a FaaS
server runs them.

Every function app links the same runtime (ukfaas over ukhttp, ukjson, ukcalc,
ukhash, ukalloc and nolibc). The runtime serves the requests it holds in the
image (``libukfaas/requests.c``, mirrored by :data:`REQUESTS`) with the app's
handler and prints one line per request. A function's handler is generated from
its index: one of six kinds, with constants and sizes drawn from the index, so
every function has code of its own. Each kind is a pair kept in step: the C of
the handler, and a Python model of the response it writes, from which the exact
console output is known.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

FUNCTION_LIBS = ("ukalloc", "ukhash", "ukjson", "ukhttp", "ukcalc", "ukfaas")
SERVER = "spacer-faas/1.0"
MASK = 0xFFFFFFFF


def mix(x: int) -> int:
    """A fixed 32-bit integer hash (deterministic across Python versions)."""
    x = (x * 0x9E3779B1 + 0x7F4A7C15) & MASK
    x ^= x >> 15
    x = (x * 0x85EBCA77) & MASK
    x ^= x >> 13
    return x


class Draws:
    """Deterministic choices for one function: each draw hashes the next counter."""

    def __init__(self, seed: int) -> None:
        self.state = mix(seed * 0x3C6EF372 + 1)

    def below(self, n: int) -> int:
        self.state = mix(self.state + 0x6A09E667)
        return self.state % n

    def pick(self, items: tuple | list):
        return items[self.below(len(items))]


@dataclass(frozen=True)
class Request:
    """What the runtime's parser makes of one built-in request."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    keep_alive: bool


_BODY_JSON = (b'{"name":"Lin","items":[3,1,4,1,5,9,2,6],"note":"tab\\there \\"quoted\\"",'
              b'"nested":{"ok":true,"depth":[1,[2,[3]]]}}')
_BODY_TEXT = b"the quick brown fox\njumps over the lazy dog\nand the dog sleeps\n"

REQUESTS: tuple[Request, ...] = (
    Request("GET", "/hello", {"name": "Ada Lovelace", "n": "12", "lang": "en"},
            {"host": "faas.local", "user-agent": "spacer-demo/1.0", "accept": "*/*"}, b"",
            True),
    Request("POST", "/api/items", {"n": "-7"},
            {"host": "faas.local", "content-type": "application/json",
             "content-length": str(len(_BODY_JSON))}, _BODY_JSON, True),
    Request("PUT", "/text/words!", {},
            {"host": "faas.local", "content-type": "text/plain; charset=utf-8",
             "transfer-encoding": "chunked", "connection": "close"}, _BODY_TEXT, False),
)
# The fourth request has a header line without a colon: the runtime answers it.
MALFORMED_ERROR = "bad header"


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)  # after X-Function
    body: bytes = b""

    def typed(self, media_type: str) -> None:
        """The Content-Type header, set once, as the runtime's helpers do."""
        if not any(name == "Content-Type" for name, _ in self.headers):
            self.headers.append(("Content-Type", media_type))

    def text(self, line: str) -> None:
        self.typed("text/plain")
        self.body += line.encode()

    def json(self, value: dict) -> None:
        self.typed("application/json")
        self.body += json.dumps(value, separators=(",", ":")).encode()


REASONS = {200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
           204: "No Content", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 415: "Unsupported Media Type",
           422: "Unprocessable Content"}


def c_string(text: str) -> str:
    """``text`` as a C string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- checksum: CRC-32, a salted mix of it, and the first bytes of SHA-256 -------------

def _checksum(d: Draws) -> tuple[str, Callable]:
    salts = [mix(d.below(1 << 30) + k) for k in range(2 + d.below(160))]
    rot = 1 + d.below(31)
    sha_bytes = 4 + d.below(13)
    table = ",\n".join(f"\t0x{s:08x}u" for s in salts)
    c = f"""static const uint32_t salts[{len(salts)}] = {{
{table}
}};

static void handle(struct faas_ctx *ctx)
{{
	const struct http_request *req = ctx->req;
	const char *data = req->body_len ? req->body : req->path;
	size_t len = req->body_len ? req->body_len : strlen(req->path);
	struct json_writer w;
	uint8_t sha[32];
	char hex[2 * {sha_bytes} + 1];
	uint32_t crc = uk_crc32(data, len), h = crc, x;
	unsigned int k;

	for (k = 0; k < sizeof(salts) / sizeof(salts[0]); k++) {{
		x = h ^ salts[k];
		h = (x << {rot} | x >> {32 - rot}) * 0x9e3779b1u;
	}}
	uk_sha256(data, len, sha);
	uk_hex_encode(sha, {sha_bytes}, hex);
	faas_json_begin(ctx, &w);
	json_object_begin(&w);
	json_key(&w, "fn");
	json_string(&w, ctx->fn);
	json_key(&w, "len");
	json_uint(&w, len);
	json_key(&w, "crc");
	json_hex32(&w, crc);
	json_key(&w, "mix");
	json_hex32(&w, h);
	json_key(&w, "sha");
	json_string(&w, hex);
	json_object_end(&w);
	faas_json_end(ctx, &w);
}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        data = req.body or req.path.encode()
        crc = h = zlib.crc32(data)
        for salt in salts:
            x = h ^ salt
            h = (((x << rot) | (x >> (32 - rot))) * 0x9E3779B1) & MASK
        res.json({"fn": fn, "len": len(data), "crc": f"{crc:08x}", "mix": f"{h:08x}",
                  "sha": hashlib.sha256(data).hexdigest()[:2 * sha_bytes]})

    return c, model


# --- json: a JSON body parsed, summed, scaled and echoed ---------------------------

def _json_echo(d: Draws) -> tuple[str, Callable]:
    mul, add = 1 + d.below(9), d.below(100) - 50
    extras = [name for name in ("max", "note", "deep", "keys") if d.below(2)]
    parts = {
        "max": '\tjson_key(&w, "max");\n\tjson_int(&w, max);\n',
        "note": '\ttok = json_find(&ctx->doc, 0, "note");\n'
                '\tif (json_get_string(&ctx->doc, tok, text, sizeof(text)) >= 0) {\n'
                '\t\tjson_key(&w, "note");\n\t\tjson_string(&w, text);\n\t}\n',
        "deep": '\ttok = json_find(&ctx->doc, 0, "nested.depth[1][1][0]");\n'
                '\tif (json_get_long(&ctx->doc, tok, &v) == 0) {\n'
                '\t\tjson_key(&w, "deep");\n\t\tjson_int(&w, v);\n\t}\n',
        "keys": '\tjson_key(&w, "keys");\n\tjson_array_begin(&w);\n'
                '\tfor (i = 0; (tok = json_key_at(&ctx->doc, 0, i)) >= 0; i++)\n'
                '\t\tif (json_get_string(&ctx->doc, tok, text, sizeof(text)) >= 0)\n'
                '\t\t\tjson_string(&w, text);\n\tjson_array_end(&w);\n',
    }
    c = f"""static void refuse(struct faas_ctx *ctx)
{{
	const char *type = http_header(ctx->req, "Content-Type");
	struct json_writer w;

	faas_status(ctx, 415);
	faas_json_begin(ctx, &w);
	json_object_begin(&w);
	json_key(&w, "error");
	json_string(&w, "unsupported media type");
	json_key(&w, "type");
	json_string(&w, type ? type : "none");
	json_object_end(&w);
	faas_json_end(ctx, &w);
}}

static void handle(struct faas_ctx *ctx)
{{
	struct json_writer w;
	char text[64];
	long v, sum = 0, max = LONG_MIN;
	int items, i, tok;

	if (!faas_body_is(ctx, "application/json") || faas_json_body(ctx) < 0) {{
		refuse(ctx);
		return;
	}}
	items = json_member(&ctx->doc, 0, "items");
	faas_json_begin(ctx, &w);
	json_object_begin(&w);
	json_key(&w, "fn");
	json_string(&w, ctx->fn);
	tok = json_member(&ctx->doc, 0, "name");
	if (json_get_string(&ctx->doc, tok, text, sizeof(text)) >= 0) {{
		json_key(&w, "name");
		json_string(&w, text);
	}}
	json_key(&w, "scaled");
	json_array_begin(&w);
	for (i = 0; (tok = json_element(&ctx->doc, items, i)) >= 0; i++) {{
		if (json_get_long(&ctx->doc, tok, &v) < 0)
			continue;
		sum += v;
		if (v > max)
			max = v;
		json_int(&w, v * {mul} + ({add}));
	}}
	json_array_end(&w);
	json_key(&w, "count");
	json_int(&w, i);
	json_key(&w, "sum");
	json_int(&w, sum);
{"".join(parts[name] for name in extras)}	json_object_end(&w);
	faas_json_end(ctx, &w);
}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        kind = req.headers.get("content-type", "")
        if kind.split(";")[0].strip() != "application/json":
            res.status = 415
            res.json({"error": "unsupported media type", "type": kind or "none"})
            return
        doc = json.loads(req.body)
        items = doc["items"]
        out = {"fn": fn, "name": doc["name"], "scaled": [v * mul + add for v in items],
               "count": len(items), "sum": sum(items)}
        extra = {"max": max(items), "note": doc["note"],
                 "deep": doc["nested"]["depth"][1][1][0], "keys": list(doc)}
        out.update((name, extra[name]) for name in extras)
        res.json(out)

    return c, model


# --- expr: programs in ukcalc's language, run with the request's n ----------------

INT64_MIN = -(1 << 63)


class CalcError(Exception):
    """A ukcalc run-time error, by calc_status_name."""


def _wrap(x: int) -> int:
    return ((x + (1 << 63)) % (1 << 64)) - (1 << 63)


def _c_div(a: int, b: int, remainder: bool) -> int:
    if b == 0:
        raise CalcError("division by zero")
    if b == -1 and a == INT64_MIN:
        raise CalcError("overflow")
    q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return a - b * q if remainder else q


def _pow(base: int, exp: int) -> int:
    if exp < 0:
        return 1 if base == 1 else (base if exp & 1 else 1) if base == -1 else 0
    return _wrap(pow(base % (1 << 64), exp, 1 << 64))


_BINARY: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: _wrap(a + b), "-": lambda a, b: _wrap(a - b),
    "*": lambda a, b: _wrap(a * b), "/": lambda a, b: _c_div(a, b, False),
    "%": lambda a, b: _c_div(a, b, True), "<<": lambda a, b: _wrap(a << (b & 63)),
    ">>": lambda a, b: a >> (b & 63), "&": lambda a, b: a & b, "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b, "<": lambda a, b: int(a < b), ">": lambda a, b: int(a > b),
    "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b), "**": _pow,
}


def _sqrt(a: int) -> int:
    if a < 0:
        raise CalcError("argument out of domain")
    return math.isqrt(a)


def _clamp(x: int, lo: int, hi: int) -> int:
    if lo > hi:
        raise CalcError("argument out of domain")
    return min(max(x, lo), hi)


_CALLS: dict[str, Callable[..., int]] = {
    "min": min, "max": max, "abs": lambda a: _wrap(abs(a)),
    "gcd": lambda a, b: _wrap(math.gcd(a, b)), "sqrt": _sqrt, "clamp": _clamp,
    "sign": lambda a: (a > 0) - (a < 0), "bits": lambda a: bin(a % (1 << 64)).count("1"),
}


def calc_eval(node: tuple, env: dict[str, int]) -> int:
    """A generated expression's value, as ukcalc's VM computes it."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return env[node[1]]
    if kind == "neg":
        return _wrap(-calc_eval(node[1], env))
    if kind == "cond":
        return calc_eval(node[2] if calc_eval(node[1], env) else node[3], env)
    if kind == "and":
        return int(bool(calc_eval(node[1], env)) and bool(calc_eval(node[2], env)))
    if kind == "or":
        return int(bool(calc_eval(node[1], env)) or bool(calc_eval(node[2], env)))
    if kind == "call":
        return _CALLS[node[1]](*(calc_eval(arg, env) for arg in node[2]))
    return _BINARY[kind](calc_eval(node[1], env), calc_eval(node[2], env))


def calc_source(node: tuple) -> str:
    kind = node[0]
    if kind == "num":
        return str(node[1])
    if kind == "var":
        return node[1]
    if kind == "neg":
        return f"(-{calc_source(node[1])})"  # "**" binds tighter than unary minus
    if kind == "cond":
        return f"({calc_source(node[1])} ? {calc_source(node[2])} : {calc_source(node[3])})"
    if kind == "call":
        return f"{node[1]}({', '.join(calc_source(arg) for arg in node[2])})"
    op = {"and": "&&", "or": "||"}.get(kind, kind)
    return f"({calc_source(node[1])} {op} {calc_source(node[2])})"


def _calc_tree(d: Draws, names: list[str], depth: int, top: bool = True) -> tuple:
    if depth == 0 or (not top and d.below(4) == 0):
        return ("var", d.pick(names)) if d.below(3) else ("num", d.below(1000))
    sub = lambda: _calc_tree(d, names, depth - 1, False)  # noqa: E731
    shape = d.below(10)
    if shape < 5:
        op = d.pick(("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "<", "==", "!=",
                     "**"))
        if op in ("<<", ">>"):
            return (op, sub(), ("num", d.below(8)))
        if op == "**":
            return (op, sub(), ("num", d.below(4)))
        return (op, sub(), sub())
    if shape == 5:
        return ("cond", sub(), sub(), sub())
    if shape == 6:
        return (d.pick(("and", "or")), sub(), sub())
    if shape == 7:
        return ("neg", sub())
    name = d.pick(("min", "max", "abs", "gcd", "sqrt", "clamp", "sign", "bits"))
    if name == "clamp":
        lo = d.below(50)
        return ("call", name, (sub(), ("num", lo), ("num", lo + d.below(500))))
    if name == "sqrt":
        return ("call", name, (("call", "abs", (sub(),)),))
    count = 2 if name in ("gcd", "min", "max") else 1
    return ("call", name, tuple(sub() for _ in range(count)))


_CODE_BYTES = {"num": 2, "var": 2, "neg": 1, "and": 6, "or": 6, "cond": 6, "call": 3}


def _code_bytes(node: tuple) -> int:
    """The bytes ukcalc's compiler emits for ``node`` (compile.c, operand bytes too)."""
    if node[0] in ("num", "var"):
        return 2
    children = node[2] if node[0] == "call" else node[1:]
    return _CODE_BYTES.get(node[0], 1) + sum(_code_bytes(c) for c in children)


def _constants(node: tuple) -> set[int]:
    if node[0] == "num":
        return {node[1]}
    if node[0] == "var":
        return set()
    children = node[2] if node[0] == "call" else node[1:]
    return set().union(*(_constants(c) for c in children))


def _fits(statements: list) -> bool:
    """Whether the program compiles within CALC_MAX_CODE and CALC_MAX_CONSTS
    (each let adds DUP and STORE, each statement after the first a POP, the end HALT)."""
    code = sum(_code_bytes(tree) + (3 if name else 0) for name, tree in statements)
    code += len(statements)
    return code <= 512 and len(set().union(*(_constants(t) for _, t in statements))) <= 64


def _program(d: Draws) -> list:
    """Statements ``[(name or None, tree), ...]``: up to three lets, then the value."""
    names, statements = ["n", "seq"], []
    for k in range(d.below(3)):
        statements.append((f"v{k}", _calc_tree(d, names, 2 + d.below(2))))
        names.append(f"v{k}")
    statements.append((None, _calc_tree(d, names, 2 + d.below(3))))
    return statements


def _expr(d: Draws) -> tuple[str, Callable]:
    programs = []
    for _ in range(1 + d.below(7)):
        statements = _program(d)
        while not _fits(statements):  # drawn again: the model has no compile limits
            statements = _program(d)
        programs.append(statements)
    sources = ["; ".join(f"let {name} = {calc_source(tree)}" if name else calc_source(tree)
                         for name, tree in statements) for statements in programs]
    listed = ",\n".join(f"\t{c_string(s)}" for s in sources)
    c = f"""static const char *const programs[] = {{
{listed}
}};

static void handle(struct faas_ctx *ctx)
{{
	static const char *const names[] = {{ "n", "seq" }};
	int64_t values[2], result;
	enum calc_status st;
	unsigned int i;

	values[0] = faas_param_long(ctx, "n", (long)ctx->req->body_len);
	values[1] = ctx->seq;
	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {{
		st = calc_eval(programs[i], names, values, 2, &result);
		if (st != CALC_OK) {{
			faas_status(ctx, 422);
			faas_text(ctx, "e%u: %s\\n", i, calc_status_name(st));
			return;
		}}
		faas_text(ctx, "e%u=%ld\\n", i, (long)result);
	}}
}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        n = int(req.params["n"]) if "n" in req.params else len(req.body)
        for i, statements in enumerate(programs):
            env = {"n": n, "seq": REQUESTS.index(req)}
            try:
                for name, tree in statements:
                    value = calc_eval(tree, env)
                    if name:
                        env[name] = value
            except CalcError as err:
                res.status = 422
                res.text(f"e{i}: {err}\n")
                return
            res.text(f"e{i}={value}\n")

    return c, model


# --- words: counts over a text body ------------------------------------------------

def _words(d: Draws) -> tuple[str, Callable]:
    min_len = 3 + d.below(4)
    letter = d.pick("aeiourst")
    first = d.below(2)  # also name the first word
    declare_first = '\tconst char *first = "";\n\tsize_t first_len = 0;\n' if first else ""
    track_first = ("\t\tif (!words) {\n\t\t\tfirst = word;\n\t\t\tfirst_len = n;\n\t\t}\n"
                   if first else "")
    print_first = ('\tfaas_text(ctx, "first=%.*s\\n", (int)first_len, first);\n'
                   if first else "")
    c = f"""static void handle(struct faas_ctx *ctx)
{{
	const char *p = ctx->req->body, *end = p + ctx->req->body_len, *word, *longest = "";
	size_t words = 0, lines = 0, longest_len = 0, n, long_words = 0, letters = 0;
{declare_first}
	if (!ctx->req->body_len) {{
		faas_status(ctx, 204);
		return;
	}}
	while (p < end) {{
		if (*p == '\\n')
			lines++;
		if (isspace((unsigned char)*p)) {{
			p++;
			continue;
		}}
		for (word = p; p < end && !isspace((unsigned char)*p); p++)
			letters += *p == '{letter}';
		n = (size_t)(p - word);
{track_first}		words++;
		long_words += n >= {min_len};
		if (n > longest_len) {{
			longest = word;
			longest_len = n;
		}}
	}}
	faas_text(ctx, "words=%zu lines=%zu bytes=%zu long=%zu {letter}=%zu longest=%.*s\\n", words,
		  lines, ctx->req->body_len, long_words, letters, (int)longest_len, longest);
{print_first}}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        if not req.body:
            res.status = 204
            return
        words = req.body.split()
        longest = max(words, key=len)  # the first of the longest
        lines = req.body.count(b"\n")
        res.text(f"words={len(words)} lines={lines} bytes={len(req.body)} "
                 f"long={sum(len(w) >= min_len for w in words)} "
                 f"{letter}={req.body.count(letter.encode())} longest={longest.decode()}\n")
        if first:
            res.text(f"first={words[0].decode()}\n")

    return c, model


# --- template: a page filled by the runtime's template engine ----------------------

_SENTENCES = (
    "Hello, {{param.name}}!", "You sent {{body_len}} bytes to {{path}}.",
    "{{method}} request #{{seq}} served by {{fn}}.", "Agent: {{header.User-Agent}}.",
    "Language: {{param.lang}}.", "Body type: {{header.content-type}}.",
    "Host {{header.Host}} answers {{param.n}}.", "Nothing to {{fill here.",
)


def _fill(template: str, fn: str, req: Request) -> str:
    """faas_render's substitution: unknown or absent names give nothing."""
    out, rest = [], template
    while "{{" in rest:
        before, _, after = rest.partition("{{")
        if "}}" not in after:
            break
        name, _, rest = after.partition("}}")
        out.append(before)
        if name.startswith("param."):
            out.append(req.params.get(name[6:], ""))
        elif name.startswith("header."):
            out.append(req.headers.get(name[7:].lower(), ""))
        else:
            out.append({"fn": fn, "method": req.method, "path": req.path,
                        "seq": str(REQUESTS.index(req)),
                        "body_len": str(len(req.body))}.get(name, ""))
    return "".join(out) + rest


def _template(d: Draws) -> tuple[str, Callable]:
    chosen = [d.pick(_SENTENCES) for _ in range(2 + d.below(12))]
    template = "\n".join(chosen) + "\n"
    max_age = 60 * (1 + d.below(60))
    c = f"""static const char page[] = {c_string(template)};

static void handle(struct faas_ctx *ctx)
{{
	http_response_header(ctx->res, "Cache-Control", "max-age={max_age}");
	faas_render(ctx, page);
}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        res.headers.append(("Cache-Control", f"max-age={max_age}"))
        res.text(_fill(template, fn, req))

    return c, model


# --- router: method and path prefix to a route, else 405 or 404 --------------------

_ROUTES = (("GET", "/hello"), ("POST", "/api/"), ("PUT", "/text/"), ("GET", "/status"),
           ("DELETE", "/api/"), ("POST", "/hello"), ("GET", "/api/"), ("PATCH", "/text/"),
           ("GET", "/"), ("HEAD", "/hello"))
_MESSAGES = ("greets", "stores", "files", "reports", "deletes", "echoes", "lists",
             "patches", "indexes", "peeks")


def _router(d: Draws) -> tuple[str, Callable]:
    routes = []
    for _ in range(2 + d.below(14)):
        k = d.below(len(_ROUTES))
        routes.append((*_ROUTES[k], _MESSAGES[k], 200 + d.below(4)))
    table = ",\n".join(f'\t{{ "{m}", "{p}", "{msg}", {s} }}' for m, p, msg, s in routes)
    c = f"""static const struct route {{
	const char *method, *prefix, *message;
	int status;
}} routes[] = {{
{table}
}};

static void handle(struct faas_ctx *ctx)
{{
	const struct http_request *req = ctx->req;
	char allow[160] = "";	/* room for every route's method */
	unsigned int i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {{
		if (strncmp(req->path, routes[i].prefix, strlen(routes[i].prefix)))
			continue;
		if (strcmp(req->method_name, routes[i].method)) {{
			if (allow[0])
				strlcat(allow, ", ", sizeof(allow));
			strlcat(allow, routes[i].method, sizeof(allow));
			continue;
		}}
		faas_status(ctx, routes[i].status);
		faas_text(ctx, "route %u: %s %s\\n", i, routes[i].message, req->path);
		return;
	}}
	if (allow[0]) {{
		http_response_header(ctx->res, "Allow", allow);
		faas_status(ctx, 405);
		faas_text(ctx, "method %s not allowed; allow: %s\\n", req->method_name, allow);
		return;
	}}
	faas_status(ctx, 404);
	faas_text(ctx, "no route for %s\\n", req->path);
}}
"""

    def model(fn: str, req: Request, res: Response) -> None:
        allow = []
        for i, (method, prefix, message, status) in enumerate(routes):
            if not req.path.startswith(prefix):
                continue
            if req.method != method:
                allow.append(method)
                continue
            res.status = status
            res.text(f"route {i}: {message} {req.path}\n")
            return
        if allow:
            res.headers.append(("Allow", ", ".join(allow)))
            res.status = 405
            res.text(f"method {req.method} not allowed; allow: {', '.join(allow)}\n")
            return
        res.status = 404
        res.text(f"no route for {req.path}\n")

    return c, model


KINDS: dict[str, Callable[[Draws], tuple[str, Callable]]] = {
    "checksum": _checksum, "json": _json_echo, "expr": _expr, "words": _words,
    "template": _template, "router": _router,
}
_INCLUDES = ("stdint.h", "stddef.h", "string.h", "ctype.h", "limits.h", "uk_hash.h",
             "uk_calc.h", "uk_faas.h")


def function_kind(index: int) -> str:
    """Consecutive functions take the kinds in turn, so any six cover them all."""
    return tuple(KINDS)[index % len(KINDS)]


def handler(index: int) -> tuple[str, Callable[[str, Request, Response], None]]:
    """The handler of function ``index``: its C, and the model of what it writes."""
    return KINDS[function_kind(index)](Draws(index))


def function_source(name: str, index: int, exit_code: int) -> str:
    c, _ = handler(index)
    includes = "".join(f"#include <{h}>\n" for h in _INCLUDES)
    return (f"/* Generated by spacer.demo.functions: do not edit. Handler kind: "
            f"{function_kind(index)}. */\n{includes}\n{c}\nint main(int argc, char *argv[])\n{{\n"
            f"\t(void)argc;\n\t(void)argv;\n"
            f"\treturn faas_serve({c_string(name)}, handle, {exit_code});\n}}\n")


def _line(fn: str, seq: int, method: str, path: str, res: Response,
          keep_alive: bool) -> tuple[str, int]:
    """The runtime's line for one response, and the response's length on the wire."""
    reason = REASONS[res.status]
    head = (f"HTTP/1.1 {res.status} {reason}\r\nServer: {SERVER}\r\nX-Function: {fn}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in res.headers)
            + f"Content-Length: {len(res.body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    wire = len(head.encode()) + len(res.body)
    return (f"{fn}: #{seq} {method} {path} -> {res.status} {reason} body={len(res.body)} "
            f"crc={zlib.crc32(res.body):08x} wire={wire}"), wire


def function_output(name: str, index: int) -> str:
    """The console output of function ``index``, exactly."""
    _, model = handler(index)
    lines, statuses, total = [], [], 0
    for seq, req in enumerate(REQUESTS):
        res = Response()
        model(name, req, res)
        line, wire = _line(name, seq, req.method, req.path, res, req.keep_alive)
        lines.append(line)
        statuses.append(res.status)
        total += wire
    refused = Response(400, [("Content-Type", "text/plain")],
                       f"bad request: {MALFORMED_ERROR}\n".encode())
    line, wire = _line(name, len(REQUESTS), "-", "-", refused, False)
    lines.append(line)
    statuses.append(400)
    total += wire
    count = {k: sum(s // 100 == k for s in statuses) for k in (2, 4, 5)}
    lines.append(f"{name}: served={len(statuses)} 2xx={count[2]} 4xx={count[4]} "
                 f"5xx={count[5]} wire={total}")
    return "\n".join(lines)
