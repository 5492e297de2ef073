import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A managed-identity token endpoint speaking App Service's protocol (what `IDENTITY_ENDPOINT` and
 * `IDENTITY_HEADER` announce to `ManagedIdentityCredential`): `GET ?api-version=2019-08-01&resource=...`
 * with the `X-IDENTITY-HEADER` secret; the answer carries `access_token`, `expires_on` (epoch
 * seconds), `resource` and `token_type`. Plain HTTP on loopback, as App Service's local endpoint is.
 * Every token it issues is added to `tokens`, which the ARM server accepts as bearer tokens.
 */
export class IdentityEndpoint {
  readonly header = randomBytes(16).toString("hex");
  readonly tokens = new Set<string>();
  requests = 0;
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests++;
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "GET" || url.pathname !== "/msi/token") return send(404, { error: "not_found" });
      if (req.headers["x-identity-header"] !== this.header) return send(401, { error: "invalid_request", error_description: "X-IDENTITY-HEADER missing or wrong" });
      if (url.searchParams.get("api-version") !== "2019-08-01") return send(400, { error: "invalid_request", error_description: "api-version must be 2019-08-01" });
      const resource = url.searchParams.get("resource");
      if (!resource) return send(400, { error: "invalid_request", error_description: "resource is required" });
      const token = `mi-${randomBytes(24).toString("hex")}`;
      this.tokens.add(token);
      send(200, { access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: "Bearer" });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/msi/token`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
