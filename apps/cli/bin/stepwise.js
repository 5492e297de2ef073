#!/usr/bin/env node
// The bin only imports the built entry; everything else is loaded on demand.
import "../dist/main.js";
