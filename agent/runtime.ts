/**
 * LangGraph's runtime, set up once per isolate before any graph runs. Imported for its side
 * effects by graph.ts.
 *
 * 1. wrangler bundles LangGraph's browser build, where getConfig()/getWriter() silently return
 *    nothing unless an AsyncLocalStorage is installed. workerd has one (nodejs_compat).
 * 2. LangGraph runs every node, edge and channel write through `runWithConfig`, which builds a
 *    langsmith `RunTree` each time only to carry the config in the async context — a UUIDv7,
 *    environment reads and a date string per call, about ten times a turn, with tracing off.
 *    This product sends no traces (no LangSmith key reaches the Worker), so when no callback
 *    handler is configured the config rides in a plain object that every reader of the context
 *    understands: `getRunnableConfig()` reads `store.extra[LC_CHILD_KEY]`, context variables
 *    live under `_CONTEXT_VARIABLES_KEY`. With a handler, or tracing switched on by the
 *    environment, the library's own path runs unchanged.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { getEnvironmentVariable } from "@langchain/core/utils/env";

AsyncLocalStorageProviderSingleton.initializeGlobalInstance(new AsyncLocalStorage());

/** The keys @langchain/core reads the async context by (singletons/async_local_storage). */
const LC_CHILD_KEY = Symbol.for("lc:child_config");
const CONTEXT_VARIABLES_KEY = Symbol.for("lc:context_variables");

const TRACING_ON = [
  "LANGSMITH_TRACING_V2",
  "LANGCHAIN_TRACING_V2",
  "LANGSMITH_TRACING",
  "LANGCHAIN_TRACING",
].some((name) => getEnvironmentVariable(name) === "true");

type RunWithConfig = typeof AsyncLocalStorageProviderSingleton.runWithConfig;
type Callbacks = NonNullable<Parameters<RunWithConfig>[0]>["callbacks"];

/** A callback manager or handler list with anything in it (LangGraph passes empty managers). */
function hasHandlers(callbacks: Callbacks): boolean {
  if (!callbacks) return false;
  if (Array.isArray(callbacks)) return callbacks.length > 0;
  return callbacks.handlers.length > 0;
}

if (!TRACING_ON) {
  const provider = AsyncLocalStorageProviderSingleton;
  const libraryRunWithConfig = provider.runWithConfig.bind(provider);
  const lean: RunWithConfig = (config, callback, avoidCreatingRootRunTree) => {
    if (hasHandlers(config?.callbacks))
      return libraryRunWithConfig(config, callback, avoidCreatingRootRunTree);
    const storage = provider.getInstance();
    const previous = storage.getStore() as Record<symbol, unknown> | undefined;
    const store: Record<string | symbol, unknown> = { extra: { [LC_CHILD_KEY]: config } };
    if (previous?.[CONTEXT_VARIABLES_KEY] !== undefined)
      store[CONTEXT_VARIABLES_KEY] = previous[CONTEXT_VARIABLES_KEY];
    return storage.run(store, callback);
  };
  provider.runWithConfig = lean;
}
