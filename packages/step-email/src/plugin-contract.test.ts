// The conformance kit of @stepwise/core/testing over the whole plugin, as a third-party author would run it.
import { describe, it } from "vitest";
import { describePlugin } from "@stepwise/core/testing";
import plugin from "./index.js";

const smtp = { "email.from": "noreply@example.com", "email.smtp.host": "smtp.example.com", "email.smtp.user": "mailer" };

describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "SMTP relay with a password", step: "email", config: smtp, secrets: { smtp_password: "s3cret-Pa55word" } },
      { name: "dev-mode mail catcher", step: "email", preset: "dev-mode" },
      { name: "SES with both keys", step: "email", config: { "email.provider": "ses", "email.from": "noreply@example.com", "email.ses.region": "eu-west-1" }, secrets: { aws_access_key_id: "AKIA0EXAMPLE0KEY0ID0", aws_secret_access_key: "Secret0Access0Key0Value0000000000" } },
    ],
  },
  { describe, it },
);
