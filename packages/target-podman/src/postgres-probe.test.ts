import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { onHostSubnet, probePostgres } from "./postgres-probe.js";

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A server that reads the StartupMessage and answers with `reply` (or closes). */
async function fakePostgres(reply: Buffer | undefined): Promise<{ port: number; startup: Promise<Buffer> }> {
  let received!: (message: Buffer) => void;
  const startup = new Promise<Buffer>((resolve) => (received = resolve));
  const server = net.createServer((socket) => {
    socket.once("data", (message) => {
      received(message);
      if (reply) {
        // Split in two writes: the probe must wait for the whole ErrorResponse.
        socket.write(reply.subarray(0, 3));
        setTimeout(() => socket.end(reply.subarray(3)), 20);
      } else socket.destroy();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, startup };
}

function errorResponse(code: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C${code}\0Mthe database system is starting up\0\0`, "utf8");
  const message = Buffer.alloc(5 + fields.length);
  message.write("E", 0);
  message.writeInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}

describe("probePostgres (what pg_isready asks)", () => {
  it("is ready at an authentication request, and sends a protocol 3.0 startup without a password", async () => {
    const auth = Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]); // R: AuthenticationMD5Password
    const server = await fakePostgres(auth);
    expect(await probePostgres("127.0.0.1", server.port, "app", 1000)).toBe("ready");
    const startup = await server.startup;
    expect(startup.readInt32BE(0)).toBe(startup.length);
    expect(startup.readInt32BE(4)).toBe(196608);
    expect(startup.subarray(8).toString("utf8").split("\0")).toEqual(["user", "app", "database", "postgres", "application_name", "stepwise-probe", "", ""]);
  });

  it("is starting while the server says 57P03 or refuses connections, and ready on any other error", async () => {
    expect(await probePostgres("127.0.0.1", (await fakePostgres(errorResponse("57P03"))).port, "app", 1000)).toBe("starting");
    expect(await probePostgres("127.0.0.1", (await fakePostgres(errorResponse("28000"))).port, "app", 1000)).toBe("ready");
    expect(await probePostgres("127.0.0.1", (await fakePostgres(undefined)).port, "app", 1000)).toBe("starting");
    const closed = await fakePostgres(undefined);
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await probePostgres("127.0.0.1", closed.port, "app", 1000)).toBe("starting");
  });

  it("takes an address for reachable only when a host interface's subnet holds it (rootful bridge, not rootless)", () => {
    const interfaces = {
      lo: [{ address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", internal: true, mac: "", cidr: "127.0.0.1/8" }],
      podman1: [{ address: "10.89.0.1", netmask: "255.255.255.0", family: "IPv4", internal: false, mac: "", cidr: "10.89.0.1/24" }],
    } as unknown as Parameters<typeof onHostSubnet>[1];
    expect(onHostSubnet("10.89.0.7", interfaces)).toBe(true);
    expect(onHostSubnet("10.89.1.7", interfaces)).toBe(false);
    expect(onHostSubnet("127.0.0.2", interfaces)).toBe(false);
    expect(onHostSubnet("not-an-ip", interfaces)).toBe(false);
  });
});
