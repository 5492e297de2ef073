import { describe, expect, it } from "vitest";
import { diagnoseHostFailure } from "./host-diagnosis.js";

const without = (...missing: string[]) => (command: string) => !missing.includes(command);

describe("diagnoseHostFailure", () => {
  it("names iptables when netavark cannot run it (Debian's podman only Suggests iptables)", () => {
    const problem = diagnoseHostFailure("netavark: No such file or directory (os error 2)", without("iptables"));
    expect(problem?.problem).toMatch(/netavark.*iptables is not installed/);
    expect(problem?.hint).toMatch(/^apt-get install -y iptables\b/);
  });

  it("names nftables when netavark's nft driver is the one missing", () => {
    expect(diagnoseHostFailure("netavark: nftables error: nft: No such file or directory", without("nft"))?.hint).toMatch(/apt-get install -y nftables/);
  });

  it("still diagnoses a netavark tool failure when iptables exists here (the service may see another PATH)", () => {
    const problem = diagnoseHostFailure("netavark: No such file or directory (os error 2)", without());
    expect(problem?.problem).toMatch(/netavark.*iptables or nft/);
    expect(problem?.hint).toContain("apt-get install -y iptables");
  });

  it("names a missing network helper, CNI plugins and OCI runtime", () => {
    expect(diagnoseHostFailure('could not find "netavark" in one of [/usr/local/libexec/podman /usr/lib/podman]', without())?.hint).toMatch(/apt-get install -y netavark/);
    expect(diagnoseHostFailure('plugin type="bridge" failed (add): failed to find plugin "bridge" in path [/usr/lib/cni]', without())?.hint).toMatch(/containernetworking-plugins/);
    expect(diagnoseHostFailure('default OCI runtime "crun" not found: invalid argument', without("crun"))?.hint).toMatch(/apt-get install -y crun/);
  });

  it("leaves problems of one container alone", () => {
    for (const message of [
      "no such image: localhost/app:1",
      "container stepwise-demo-web: name is already in use",
      'runc: runc create failed: unable to start container process: exec: "node": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found',
      "netavark: network stepwise-demo has no subnets left",
    ]) {
      expect(diagnoseHostFailure(message, without("iptables")), message).toBeUndefined();
    }
  });
});
