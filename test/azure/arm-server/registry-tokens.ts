import { createPrivateKey, randomBytes, randomUUID, sign, type KeyObject } from "node:crypto";

/**
 * The token service of the tests' container registry, standing in for Azure Container
 * Registry's (`https://<registry>.azurecr.io/oauth2/...`). Debian's docker-registry runs with
 * `auth: token` pointing its realm here, so Podman's push goes through the same dance as against
 * ACR:
 *
 * - `POST /oauth2/exchange` (ACR's AAD exchange: form `grant_type=access_token`, `service`,
 *   `access_token`, optional `tenant`): an Entra access token the identity endpoint issued becomes
 *   a registry refresh token, answered as `{ "refresh_token": ... }`.
 * - `GET /oauth2/token?service=&scope=...` with HTTP Basic auth (the Docker token protocol, what
 *   Podman sends): user `00000000-0000-0000-0000-000000000000` with a refresh token as password,
 *   or the registry's admin user; answers `{ token, access_token, expires_in, issued_at }`.
 * - `POST /oauth2/token` (the OAuth2 form: `grant_type=refresh_token` or `password`).
 *
 * Tokens are JWTs signed ES256 with the harness key, the certificate in `x5c`; the registry trusts
 * that certificate as its `rootcertbundle`. A repository prefix can be denied push (the identity
 * lacks AcrPush there): its token grants `pull` only and the registry refuses the upload.
 */
export class RegistryTokens {
  static readonly ISSUER = "stepwise-test-acr";
  static readonly TOKEN_USER = "00000000-0000-0000-0000-000000000000";
  /** The registry's login server (`127.0.0.1:PORT`), the `service` every request must name; set once it runs. */
  service = "";
  private readonly refreshTokens = new Set<string>();
  private readonly denied: string[] = [];
  /** What was asked (never a token or password): tests read it through `GET /_control/registry-log`. */
  readonly log: { seq: number; method: string; path: string; grant?: string; user?: string; scope: string[]; status: number; issued?: string }[] = [];
  private readonly key: KeyObject;
  private readonly x5c: string;

  constructor(
    tls: { key: string; cert: string },
    private readonly accessTokens: Set<string>,
    private readonly admin: { name: string; password: string },
  ) {
    this.key = createPrivateKey(tls.key);
    this.x5c = tls.cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  }

  /** Denies push below `prefix` (a repository name prefix, `stepwise-imgbad/`). */
  denyPush(prefix: string): void {
    this.denied.push(prefix);
  }

  /** Every refresh token the exchange issued (for the tests' secret greps). */
  issued(): string[] {
    return [...this.refreshTokens];
  }

  handle(method: string, url: URL, headers: Record<string, string | string[] | undefined>, body: string): { status: number; body: unknown; headers?: Record<string, string> } {
    const entry: (typeof this.log)[number] = { seq: this.log.length + 1, method, path: url.pathname, scope: [], status: 0 };
    this.log.push(entry);
    const answer = this.route(method, url, headers, body, entry);
    entry.status = answer.status;
    return answer;
  }

  private route(method: string, url: URL, headers: Record<string, string | string[] | undefined>, body: string, entry: (typeof this.log)[number]): { status: number; body: unknown; headers?: Record<string, string> } {
    const error = (status: number, code: string, message: string) => ({ status, body: { errors: [{ code, message, detail: null }] } });
    const form = () => {
      const type = String(headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      return type === "application/x-www-form-urlencoded" ? new URLSearchParams(body) : undefined;
    };
    if (url.pathname === "/oauth2/exchange") {
      if (method !== "POST") return error(405, "UNSUPPORTED", `${method} is not supported on /oauth2/exchange`);
      const params = form();
      if (!params) return error(400, "BAD_REQUEST", "the request body must be application/x-www-form-urlencoded");
      entry.grant = params.get("grant_type") ?? undefined;
      if (params.get("grant_type") !== "access_token") return error(400, "UNSUPPORTED_GRANT_TYPE", "grant_type must be access_token");
      if (params.get("service") !== this.service) return error(400, "BAD_REQUEST", `service must be the registry's login server '${this.service}'`);
      const accessToken = params.get("access_token");
      if (!accessToken) return error(400, "BAD_REQUEST", "access_token is required");
      if (!this.accessTokens.has(accessToken)) return error(401, "UNAUTHORIZED", "the access token is not valid for this registry's tenant");
      const refresh = `acr-refresh-${randomBytes(24).toString("hex")}`;
      this.refreshTokens.add(refresh);
      entry.issued = "refresh_token";
      return { status: 200, body: { refresh_token: refresh } };
    }
    if (url.pathname !== "/oauth2/token") return error(404, "NOT_FOUND", `no route ${url.pathname}`);

    let user: string | undefined;
    let secret: string | undefined;
    let params: URLSearchParams;
    if (method === "GET") {
      params = url.searchParams;
      const basic = /^Basic (.+)$/i.exec(String(headers.authorization ?? ""))?.[1];
      if (basic) {
        const decoded = Buffer.from(basic, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon > 0) [user, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
      }
    } else if (method === "POST") {
      const parsed = form();
      if (!parsed) return error(400, "BAD_REQUEST", "the request body must be application/x-www-form-urlencoded");
      params = parsed;
      entry.grant = params.get("grant_type") ?? undefined;
      if (entry.grant === "refresh_token") [user, secret] = [RegistryTokens.TOKEN_USER, params.get("refresh_token") ?? undefined];
      else if (entry.grant === "password") [user, secret] = [params.get("username") ?? undefined, params.get("password") ?? undefined];
      else return error(400, "UNSUPPORTED_GRANT_TYPE", "grant_type must be refresh_token or password");
    } else {
      return error(405, "UNSUPPORTED", `${method} is not supported on /oauth2/token`);
    }
    entry.user = user;
    entry.scope = params.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    if (params.get("service") !== this.service) return error(400, "BAD_REQUEST", `service must be the registry's login server '${this.service}'`);
    const admin = user === this.admin.name && secret === this.admin.password;
    const viaToken = user === RegistryTokens.TOKEN_USER && secret !== undefined && this.refreshTokens.has(secret);
    if (!admin && !viaToken) return { ...error(401, "UNAUTHORIZED", "authentication required"), headers: { "www-authenticate": `Basic realm="${this.service}"` } };

    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const scope of entry.scope) {
      // repository:<name>:<actions> (the name may hold a port: split from both ends).
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      if (first < 0 || last === first) return error(400, "BAD_REQUEST", `invalid scope '${scope}'`);
      const [type, name, wanted] = [scope.slice(0, first), scope.slice(first + 1, last), scope.slice(last + 1).split(",")];
      if (type !== "repository") continue;
      const allowed = admin ? ["pull", "push", "delete", "*"] : this.denied.some((p) => name.startsWith(p)) ? ["pull"] : ["pull", "push"];
      access.push({ type, name, actions: wanted.filter((a) => allowed.includes(a)) });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = this.jwt({ iss: RegistryTokens.ISSUER, sub: user, aud: this.service, exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access });
    return { status: 200, body: { token, access_token: token, expires_in: 600, issued_at: new Date(now * 1000).toISOString() } };
  }

  private jwt(claims: Record<string, unknown>): string {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const input = `${encode({ typ: "JWT", alg: "ES256", x5c: [this.x5c] })}.${encode(claims)}`;
    // JOSE's ES256 signature is r||s (IEEE P1363), not DER.
    const signature = sign("sha256", Buffer.from(input), { key: this.key, dsaEncoding: "ieee-p1363" });
    return `${input}.${signature.toString("base64url")}`;
  }
}
