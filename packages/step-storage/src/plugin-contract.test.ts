// The conformance kit of @stepwise/core/testing over the whole plugin, as a third-party author would run it.
import { describe, it } from "vitest";
import { describePlugin } from "@stepwise/core/testing";
import plugin from "./index.js";

const secrets = { object_store_access_key: "AKIA0STORE0ACCESS000", object_store_secret_key: "StoreSecretKeyValue".padEnd(40, "y") };

describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "local volume", step: "storage", config: { "email.provider": "smtp" } },
      { name: "S3 object store from the target", step: "storage", config: { "email.provider": "smtp", "storage.objectStore.provider": "s3" }, secrets },
      { name: "S3 at an external endpoint", step: "storage", config: { "email.provider": "smtp", "storage.objectStore.provider": "s3", "storage.objectStore.endpoint": "https://s3.eu-west-1.amazonaws.com" }, secrets },
      { name: "refuses e-mail authentication without mail", step: "storage", config: { "email.provider": "none" }, error: "storage.emailAuthentication needs outgoing mail" },
    ],
  },
  { describe, it },
);
