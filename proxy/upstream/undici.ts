/**
 * The two things the data plane takes from undici, loaded from undici's own modules: the package's index
 * also loads fetch, WebSocket, EventSource, the HTTP cache and the mock agents, ~5 MB of a proxy that uses
 * none of them (and more for the old-generation GC to mark on every cycle). The types come from the
 * package as usual; undici is pinned, so these paths are checked by the tests on every upgrade.
 */
import { createRequire } from "node:module";
import type * as Undici from "undici";

const require = createRequire(import.meta.url);

export const Agent: typeof Undici.Agent = require("undici/lib/dispatcher/agent.js");
export const errors: typeof Undici.errors = require("undici/lib/core/errors.js");
