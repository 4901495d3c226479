/**
 * Small node programs run inside namespaces (`ip netns exec NS node -e SCRIPT args...`) by the
 * proxy end-to-end tests: backends that answer with their name, and traffic generators that
 * print one JSON line with what they saw. They only talk to the addresses they are given.
 */

/** HTTP on 8080 (body: NAME), TCP echo on 9000 ("NAME:line"), UDP on 5353 (reply NAME); argv: NAME */
export const BACKEND = String.raw`
const http = require("node:http"), net = require("node:net"), dgram = require("node:dgram");
const name = process.argv[1];
http.createServer((req, res) => { res.setHeader("Connection", "close"); res.end(name); }).listen(8080, "0.0.0.0");
net.createServer((s) => { s.setEncoding("utf8"); let buf = ""; s.on("data", (d) => { buf += d; let i; while ((i = buf.indexOf("\n")) >= 0) { s.write(name + ":" + buf.slice(0, i) + "\n"); buf = buf.slice(i + 1); } }); s.on("error", () => {}); }).listen(9000, "0.0.0.0");
const u = dgram.createSocket("udp4"); u.on("message", (m, r) => u.send(name, r.port, r.address)); u.bind(5353, "0.0.0.0");
setTimeout(() => console.log("ready " + name), 100);
`;

/**
 * N HTTP GETs, each on a new connection; argv: URL N [timeoutMs]
 * prints {"counts":{name:n},"errors":{code:n},"ms":total}
 */
export const HTTP_CLIENT = `
const http = require("node:http");
const [url, n, tmo] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3] || 3000)];
const counts = {}, errors = {}, seq = [];
const one = () => new Promise((resolve) => {
  const req = http.get(url, { agent: false, timeout: tmo }, (res) => { let b = ""; res.setEncoding("utf8"); res.on("data", (d) => b += d); res.on("end", () => { counts[b] = (counts[b] || 0) + 1; seq.push(b); resolve(); }); });
  req.on("timeout", () => { req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })); });
  req.on("error", (e) => { errors[e.code || e.message] = (errors[e.code || e.message] || 0) + 1; seq.push("!" + (e.code || e.message)); resolve(); });
});
(async () => { const t0 = Date.now(); for (let i = 0; i < n; i++) await one(); console.log(JSON.stringify({ counts, errors, seq, ms: Date.now() - t0 })); })();
`;

/** one TCP connect attempt; argv: HOST PORT timeoutMs → {"result":"connected"|code,"ms":n} */
export const CONNECT = `
const net = require("node:net");
const t0 = Date.now();
const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
const done = (r) => { console.log(JSON.stringify({ result: r, ms: Date.now() - t0 })); s.destroy(); process.exit(0); };
s.setTimeout(Number(process.argv[3] || 5000), () => done("TIMEOUT"));
s.on("connect", () => done("connected"));
s.on("error", (e) => done(e.code || e.message));
`;

/**
 * UDP client with one socket (fixed source port) sending every 100 ms; argv: HOST PORT
 * prints one line per reply: {"t":ms,"from":name}
 */
export const UDP_CLIENT = `
const dgram = require("node:dgram");
const s = dgram.createSocket("udp4");
s.on("message", (m) => console.log(JSON.stringify({ t: Date.now(), from: m.toString() })));
s.bind(0, () => setInterval(() => s.send("ping", Number(process.argv[2]), process.argv[1]), 100));
`;

/**
 * one long-lived TCP connection, a line every 200 ms; argv: HOST PORT
 * prints {"t":ms,"reply":"..."} per reply, {"event":"close"|"error",...} at the end
 */
export const TCP_CLIENT = String.raw`
const net = require("node:net");
const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
let i = 0, buf = "";
s.setEncoding("utf8");
s.on("connect", () => { console.log(JSON.stringify({ event: "connected" })); setInterval(() => s.write("m" + (i++) + "\n"), 200); });
s.on("data", (d) => { buf += d; let k; while ((k = buf.indexOf("\n")) >= 0) { console.log(JSON.stringify({ t: Date.now(), reply: buf.slice(0, k) })); buf = buf.slice(k + 1); } });
s.on("close", () => { console.log(JSON.stringify({ event: "close" })); process.exit(0); });
s.on("error", (e) => console.log(JSON.stringify({ event: "error", code: e.code })));
`;
