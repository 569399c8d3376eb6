/**
 * The Postgres schema. `npm run db:generate` turns changes here into SQL under migrations/.
 */
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { TRANSFER_STATES } from "../../protocol/messages.ts";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

export const teamRole = pgEnum("team_role", ["owner", "admin", "member", "viewer"]);
export const todoPriority = pgEnum("todo_priority", ["low", "medium", "high", "urgent"]);
export const turnRole = pgEnum("turn_role", ["user", "assistant", "tool", "system"]);
/** The states of transfer/state.ts: `failed` carries its reason in `failure_reason`. */
export const transferStatus = pgEnum("transfer_status", TRANSFER_STATES);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    email: text("email").notNull(),
    timezone: text("timezone").notNull().default("UTC"),
    active: boolean("active").notNull().default(true),
    /**
     * HMAC-SHA256(PIN_SECRET, pin) as hex. Keyed so a leaked table does not reveal PINs
     * (4–8 digits are trivial to brute-force from a plain hash), deterministic so sign-in
     * stays one indexed lookup. Unique: two users can never share a PIN.
     */
    pinHash: text("pin_hash").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    uniqueIndex("users_pin_hash_key").on(t.pinHash),
  ],
);

export const teams = pgTable(
  "teams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("teams_name_key").on(t.name)],
);

export const teamMemberships = pgTable(
  "team_memberships",
  {
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: teamRole("role").notNull().default("member"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.teamId, t.userId] }),
    index("team_memberships_user_idx").on(t.userId),
  ],
);

export const todos = pgTable(
  "todos",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    title: text("title").notNull(),
    description: text("description"),
    priority: todoPriority("priority").notNull().default("medium"),
    dueAt: timestamp("due_at", { withTimezone: true }),
    completed: boolean("completed").notNull().default(false),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    creatorId: uuid("creator_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    assigneeId: uuid("assignee_id").references(() => users.id, { onDelete: "set null" }),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("todos_creator_idx").on(t.creatorId),
    index("todos_assignee_idx").on(t.assigneeId),
    index("todos_team_idx").on(t.teamId),
  ],
);

export const reminders = pgTable(
  "reminders",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    message: text("message").notNull(),
    remindAt: timestamp("remind_at", { withTimezone: true }).notNull(),
    todoId: uuid("todo_id").references(() => todos.id, { onDelete: "set null" }),
    dismissed: boolean("dismissed").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index("reminders_user_time_idx").on(t.userId, t.remindAt)],
);

export const calendarEvents = pgTable(
  "calendar_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: uuid("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    title: text("title").notNull(),
    description: text("description"),
    location: text("location"),
    startsAt: timestamp("starts_at", { withTimezone: true }).notNull(),
    endsAt: timestamp("ends_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("calendar_events_owner_time_idx").on(t.ownerId, t.startsAt),
    check("calendar_events_ends_after_start", sql`${t.endsAt} > ${t.startsAt}`),
  ],
);

export const callSessions = pgTable(
  "call_sessions",
  {
    /** The CallSession Durable Object's id. */
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    endReason: text("end_reason"),
  },
  (t) => [index("call_sessions_user_idx").on(t.userId, t.startedAt)],
);

export const transcriptTurns = pgTable(
  "transcript_turns",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionId: text("session_id")
      .notNull()
      .references(() => callSessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    role: turnRole("role").notNull(),
    text: text("text").notNull(),
    /** Tool calls made in this turn: [{name, input, output}]. */
    toolCalls: jsonb("tool_calls"),
    /** Per-turn latency figures (voice issue). */
    metrics: jsonb("metrics"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("transcript_turns_session_seq_key").on(t.sessionId, t.seq)],
);

export const humanAgents = pgTable(
  "human_agents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    /** Dashboard login name. */
    login: text("login").notNull(),
    sipExtension: text("sip_extension").notNull(),
    department: text("department").notNull().default("support"),
    active: boolean("active").notNull().default(true),
    /**
     * Dashboard password: `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64` (PBKDF2 through WebCrypto,
     * per-agent salt). Null: the agent cannot sign in to the dashboard.
     */
    passwordHash: text("password_hash"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("human_agents_login_key").on(t.login),
    uniqueIndex("human_agents_sip_extension_key").on(t.sipExtension),
  ],
);

export const transfers = pgTable(
  "transfers",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionId: text("session_id")
      .notNull()
      .references(() => callSessions.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    humanAgentId: uuid("human_agent_id").references(() => humanAgents.id, { onDelete: "set null" }),
    department: text("department"),
    extension: text("extension").notNull(),
    reason: text("reason"),
    status: transferStatus("status").notNull().default("requested"),
    /** Twilio's Call SID once the call is created. */
    providerCallId: text("provider_call_id"),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
    ringingAt: timestamp("ringing_at", { withTimezone: true }),
    answeredAt: timestamp("answered_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    failureReason: text("failure_reason"),
    /** Who ended a connected transfer: "caller" or "agent". */
    endedBy: text("ended_by"),
    /** Two sentences for the human: what the call was about and why they are getting it. */
    summary: text("summary"),
    /** The caller as the human sees them: `{name, email, teams: [{name, role}]}`. */
    caller: jsonb("caller"),
    /** The conversation so far: `[{role, text, at}]` (at: epoch ms). */
    transcript: jsonb("transcript"),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("transfers_session_idx").on(t.sessionId),
    index("transfers_department_idx").on(t.department, t.requestedAt),
    uniqueIndex("transfers_provider_call_id_key").on(t.providerCallId),
  ],
);

/** Signed-in dashboard sessions: the cookie carries the id, only its SHA-256 is stored. */
export const agentSessions = pgTable(
  "agent_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => humanAgents.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("agent_sessions_token_hash_key").on(t.tokenHash)],
);

/** The softphone's call log: every call a human agent took or missed, with notes afterwards. */
export const agentCalls = pgTable(
  "agent_calls",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => humanAgents.id, { onDelete: "cascade" }),
    /** Set when the call came with a session header of a known transfer. */
    transferId: uuid("transfer_id").references(() => transfers.id, { onDelete: "set null" }),
    sessionId: text("session_id"),
    /** What the SIP headers said of the caller (display name, URI), for calls without a session. */
    remoteIdentity: text("remote_identity").notNull(),
    /** answered, missed, rejected. */
    outcome: text("outcome").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    answeredAt: timestamp("answered_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    disposition: text("disposition"),
    notes: text("notes"),
    createdAt: createdAt(),
  },
  (t) => [index("agent_calls_agent_idx").on(t.agentId, t.startedAt)],
);
