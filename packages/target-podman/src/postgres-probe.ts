import net from "node:net";
import os from "node:os";

/** What one probe of a Postgres server found. */
export type PostgresProbe = "ready" | "starting" | "unreachable";

const PROTOCOL_3_0 = 196608;
/** SQLSTATE of "the database system is starting up" (and "... is shutting down" is 57P01..03's family). */
const CANNOT_CONNECT_NOW = "57P03";

/**
 * Asks the server at `host:port` whether it accepts connections, as `pg_isready` (libpq's
 * PQping) does: a StartupMessage, then the first reply. An authentication request (`R`) or
 * any error other than 57P03 means the server is up; 57P03 or a refused connection means it
 * is still starting. No password is sent: the connection is closed at the first reply.
 *
 * `unreachable` (no route, a timeout) means this host cannot reach the address at all, as
 * with rootless Podman, whose container addresses live in another network namespace: the
 * caller then falls back to `pg_isready` inside the container.
 */
export function probePostgres(host: string, port: number, user: string, timeoutMs: number, signal?: AbortSignal): Promise<PostgresProbe> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (result: PostgresProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish("starting");
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => finish("unreachable"), timeoutMs);
    socket.once("connect", () => socket.write(startupMessage(user)));
    let reply = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const type = String.fromCharCode(reply[0]!);
      if (type !== "E") return finish("ready");
      // ErrorResponse: Int32 length, then fields (a code byte + a NUL-terminated string), ending with a NUL.
      if (reply.length < 5 || reply.length < 1 + reply.readInt32BE(1)) return; // wait for the whole message
      finish(errorCode(reply) === CANNOT_CONNECT_NOW ? "starting" : "ready");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "";
      finish(code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE" ? "starting" : "unreachable");
    });
    // Closed without a reply: the postmaster went away mid-start (a restart after the init phase).
    socket.once("close", () => finish("starting"));
  });
}

function startupMessage(user: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0postgres\0application_name\0stepwise-probe\0\0`, "utf8");
  const message = Buffer.alloc(8 + body.length);
  message.writeInt32BE(message.length, 0);
  message.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(message, 8);
  return message;
}

function errorCode(reply: Buffer): string | undefined {
  const end = 1 + reply.readInt32BE(1);
  for (let at = 5; at < end && reply[at] !== 0; ) {
    const field = String.fromCharCode(reply[at]!);
    const stop = reply.indexOf(0, at + 1);
    if (stop < 0) return undefined;
    if (field === "C") return reply.toString("utf8", at + 1, stop);
    at = stop + 1;
  }
  return undefined;
}

/**
 * Whether `address` lies in the subnet of one of this host's interfaces: true for a rootful
 * Podman bridge (the host holds the gateway address), false for rootless Podman, whose
 * networks exist only inside its own namespace. Saves a probe that could only time out.
 */
export function onHostSubnet(address: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): boolean {
  const target = ipv4ToNumber(address);
  if (target === undefined) return false;
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family !== "IPv4" || info.internal) continue;
      const own = ipv4ToNumber(info.address);
      const mask = ipv4ToNumber(info.netmask);
      if (own !== undefined && mask !== undefined && mask !== 0 && ((own & mask) >>> 0) === ((target & mask) >>> 0)) return true;
    }
  }
  return false;
}

function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    const n = Number(part);
    if (!/^\d{1,3}$/.test(part) || n > 255) return undefined;
    value = value * 256 + n;
  }
  return value >>> 0;
}
