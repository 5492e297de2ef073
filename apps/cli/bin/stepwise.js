#!/usr/bin/env node
// V8's code cache on disk first (Node 22.1+), so later runs skip most of the parsing of the
// entry too; then the built entry, which loads everything else on demand.
import nodeModule from "node:module";

nodeModule.enableCompileCache?.();
await import("../dist/main.js");
