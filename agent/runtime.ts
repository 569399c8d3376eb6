/**
 * wrangler bundles LangGraph's browser build, where getConfig()/getWriter() silently return
 * nothing unless an AsyncLocalStorage is installed. workerd has one (nodejs_compat), so it is
 * installed once, before any graph runs. Imported for its side effect by graph.ts.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";

AsyncLocalStorageProviderSingleton.initializeGlobalInstance(new AsyncLocalStorage());
