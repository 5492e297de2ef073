// The demo web app: GET / shows the greetings stored in Postgres; GET /healthz checks the database.
import http from "node:http";
import { withClient } from "./db.js";

const port = Number(process.env.PORT ?? 3000);
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const server = http.createServer(async (req, res) => {
  try {
    if (req.url === "/healthz") {
      await withClient((client) => client.query("SELECT 1"));
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (req.url === "/api/greetings") {
      const rows = await withClient(async (client) => (await client.query("SELECT id, message, created_at FROM greetings ORDER BY id")).rows);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(rows));
      return;
    }
    const rows = await withClient(async (client) => (await client.query("SELECT id, message, created_at FROM greetings ORDER BY id")).rows);
    const items = rows.map((r) => `<li>${escape(r.message)} <small>(#${r.id}, ${escape(new Date(r.created_at).toISOString())})</small></li>`).join("");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html><head><title>stepwise demo</title></head>
<body><h1>stepwise demo</h1><p>Rows read from Postgres database <code>${escape(process.env.PGDATABASE)}</code>:</p><ul>${items}</ul></body></html>
`);
  } catch (error) {
    res.writeHead(503, { "content-type": "text/plain" }).end(`database unavailable: ${error.message}\n`);
  }
});
server.listen(port, () => console.log(`listening on ${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
