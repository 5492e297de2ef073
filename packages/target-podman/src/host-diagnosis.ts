import { delimiter } from "node:path";
import { findOnPath } from "./connection.js";

/** A host tool Podman needs that is missing or failing, and the command that installs it. */
export interface HostProblem {
  /** What the host lacks, in a user's words. */
  problem: string;
  /** The exact command that fixes it. */
  hint: string;
}

/** Is `command` an executable on PATH or in the sbin directories root's tools live in? */
export type HasCommand = (command: string) => boolean;

/**
 * Reads a Podman error for the host problems that make *every* container fail — the network
 * backend (netavark or CNI) or the OCI runtime missing a tool — as opposed to a problem of
 * one container. Returns `undefined` for any other message.
 *
 * netavark runs `iptables` (or `nft`) to set up a bridge network; when the tool is missing
 * it says only `netavark: No such file or directory (os error 2)`. So the tools are looked
 * up on this machine: the API socket is local (a unix socket), so its host is this one.
 */
export function diagnoseHostFailure(message: string, hasCommand: HasCommand = commandExists): HostProblem | undefined {
  const text = message.toLowerCase();
  const missingBinary = /could not find "?([\w-]+)"? in one of|"?([\w-]+)"?: executable file not found/.exec(message);
  const named = missingBinary?.slice(1).find(Boolean);
  if (named && HOST_PACKAGES[named]) return installProblem(named, `Podman needs ${named}, which is not installed on this host`);
  if (/\bnetavark\b/.test(text)) {
    if (/no such file or directory|command not found|failed to locate|executable file not found/.test(text)) {
      // netavark's default firewall driver is iptables; nft only when configured (and named).
      const tool = /\bnft\b|nftables/.test(text) && !hasCommand("nft") ? "nft" : !hasCommand("iptables") ? "iptables" : undefined;
      if (tool) return installProblem(tool, `Podman's network backend (netavark) cannot set up container networking: ${tool} is not installed on this host`);
      return {
        problem: "Podman's network backend (netavark) could not run a host tool it needs (iptables or nft)",
        hint: "apt-get install -y iptables netavark aardvark-dns   (then: podman run --rm --network podman <image> true to check)",
      };
    }
    if (/iptables|nftables|\bnft\b|firewall/.test(text)) {
      return {
        problem: "Podman's network backend (netavark) failed to configure the firewall (iptables/nftables) for a container network",
        hint: "check that iptables works (iptables -L), or install it: apt-get install -y iptables",
      };
    }
  }
  if (/\bcni\b|plugin type="?\w+"? failed|failed to find plugin/.test(text)) {
    if (/failed to find plugin|no such file or directory|not found/.test(text)) {
      return installProblem("containernetworking-plugins", "Podman's CNI network backend cannot find its plugins (bridge, portmap, firewall)");
    }
    if (/iptables|firewall/.test(text) && !hasCommand("iptables")) {
      return installProblem("iptables", "Podman's CNI network backend cannot set up container networking: iptables is not installed on this host");
    }
  }
  if (/aardvark-dns/.test(text) && /no such file|not found/.test(text)) {
    return installProblem("aardvark-dns", "Podman's DNS for container networks (aardvark-dns) is not installed on this host");
  }
  const runtime = /oci runtime "?(\w+)"? not found|default oci runtime "?(\w+)"? not found|runtime "?(\w+)"? .*not found in/.exec(text);
  const runtimeName = runtime?.slice(1).find(Boolean);
  if (runtimeName) return installProblem(runtimeName, `Podman's OCI runtime ${runtimeName} is not installed on this host`);
  return undefined;
}

/** Debian package per tool Podman runs on the host. */
const HOST_PACKAGES: Record<string, string> = {
  iptables: "iptables",
  nft: "nftables",
  netavark: "netavark",
  "aardvark-dns": "aardvark-dns",
  "containernetworking-plugins": "containernetworking-plugins",
  conmon: "conmon",
  runc: "runc",
  crun: "crun",
  slirp4netns: "slirp4netns",
};

function installProblem(tool: string, problem: string): HostProblem {
  return { problem, hint: `apt-get install -y ${HOST_PACKAGES[tool] ?? tool}   (then run the command again)` };
}

/** Directories root's tools and Podman's helpers live in, which a non-login shell may leave off PATH. */
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/libexec/podman", "/usr/lib/podman"];

/** Is `command` on PATH, or in the sbin and Podman helper directories? */
export function commandExists(command: string): boolean {
  return findOnPath(command, { PATH: [process.env.PATH ?? "", ...EXTRA_DIRS].join(delimiter) }) !== undefined;
}
