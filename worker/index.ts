import { app } from "./app.ts";

export { CallSession } from "../durable-objects/call-session.ts";
export { PinThrottle } from "../durable-objects/pin-throttle.ts";

export default app;
