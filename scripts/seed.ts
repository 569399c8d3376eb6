/**
 * Demo data for `npm start`: three users in shared teams, with todos, events, reminders and
 * two human agents. Every row has a fixed id, so seeding again inserts nothing new; PIN hashes
 * are rewritten each time because they depend on PIN_SECRET.
 */
import { hashPassword } from "../worker/dashboard/password.ts";
import type { Database } from "../worker/db/client.ts";
import {
  calendarEvents,
  humanAgents,
  reminders,
  teamMemberships,
  teams,
  todos,
  users,
} from "../worker/db/schema.ts";
import { hashPin } from "../worker/pin-hash.ts";

export const DEMO_USERS = [
  {
    id: "00000000-0000-4000-8000-00000000a11c",
    name: "Alice Nguyen",
    email: "alice@demo.convonet.dev",
    timezone: "America/New_York",
    pin: "1234",
  },
  {
    id: "00000000-0000-4000-8000-000000000b0b",
    name: "Bob Okafor",
    email: "bob@demo.convonet.dev",
    timezone: "Europe/London",
    pin: "5678",
  },
  {
    id: "00000000-0000-4000-8000-0000000ca4e1",
    name: "Carmen Diaz",
    email: "carmen@demo.convonet.dev",
    timezone: "America/Los_Angeles",
    pin: "2468",
  },
] as const;

/** Human agents who sign in to the dashboard (web/dashboard); the passwords are for local demos only. */
export const DEMO_AGENTS = [
  {
    id: "00000000-0000-4000-8000-000000004001",
    name: "Sam Rivera",
    login: "sam",
    password: "demo-sam-2001",
    sipExtension: "2001",
    department: "support",
  },
  {
    id: "00000000-0000-4000-8000-000000004002",
    name: "Priya Shah",
    login: "priya",
    password: "demo-priya-2002",
    sipExtension: "2002",
    department: "billing",
  },
] as const;

const [alice, bob, carmen] = DEMO_USERS;
const OPS = "00000000-0000-4000-8000-0000000000f1";
const MARKETING = "00000000-0000-4000-8000-0000000000f2";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export async function seedDemoData(db: Database, pinSecret: string, now = new Date()) {
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

  for (const u of DEMO_USERS) {
    const pinHash = await hashPin(u.pin, pinSecret);
    await db
      .insert(users)
      .values({ id: u.id, name: u.name, email: u.email, timezone: u.timezone, pinHash })
      .onConflictDoUpdate({ target: users.id, set: { pinHash } });
  }

  await db
    .insert(teams)
    .values([
      { id: OPS, name: "Operations", description: "Keeps the lights on" },
      { id: MARKETING, name: "Marketing", description: "Launches and campaigns" },
    ])
    .onConflictDoNothing();

  await db
    .insert(teamMemberships)
    .values([
      { teamId: OPS, userId: alice.id, role: "owner" },
      { teamId: OPS, userId: bob.id, role: "member" },
      { teamId: OPS, userId: carmen.id, role: "viewer" },
      { teamId: MARKETING, userId: bob.id, role: "admin" },
      { teamId: MARKETING, userId: alice.id, role: "member" },
    ])
    .onConflictDoNothing();

  await db
    .insert(todos)
    .values([
      {
        id: "00000000-0000-4000-8000-000000001001",
        title: "Renew the TLS certificate",
        priority: "high",
        dueAt: at(2 * DAY),
        creatorId: alice.id,
        assigneeId: alice.id,
      },
      {
        id: "00000000-0000-4000-8000-000000001002",
        title: "Buy milk",
        priority: "low",
        dueAt: at(DAY),
        creatorId: alice.id,
        assigneeId: alice.id,
      },
      {
        id: "00000000-0000-4000-8000-000000001003",
        title: "Rotate the on-call schedule",
        priority: "medium",
        dueAt: at(3 * DAY),
        creatorId: alice.id,
        assigneeId: bob.id,
        teamId: OPS,
      },
      {
        id: "00000000-0000-4000-8000-000000001004",
        title: "Draft the launch email",
        priority: "urgent",
        dueAt: at(DAY),
        creatorId: bob.id,
        assigneeId: bob.id,
        teamId: MARKETING,
      },
      {
        id: "00000000-0000-4000-8000-000000001005",
        title: "Book the dentist",
        priority: "medium",
        creatorId: bob.id,
        assigneeId: bob.id,
        completed: true,
        completedAt: at(-DAY),
      },
    ])
    .onConflictDoNothing();

  await db
    .insert(calendarEvents)
    .values([
      {
        id: "00000000-0000-4000-8000-000000002001",
        ownerId: alice.id,
        teamId: OPS,
        title: "Ops stand-up",
        startsAt: at(DAY),
        endsAt: at(DAY + HOUR / 2),
        location: "Room 2",
      },
      {
        id: "00000000-0000-4000-8000-000000002002",
        ownerId: alice.id,
        title: "Lunch with Sam",
        startsAt: at(2 * DAY),
        endsAt: at(2 * DAY + HOUR),
      },
      {
        id: "00000000-0000-4000-8000-000000002003",
        ownerId: bob.id,
        teamId: MARKETING,
        title: "Launch review",
        startsAt: at(DAY + 2 * HOUR),
        endsAt: at(DAY + 3 * HOUR),
      },
    ])
    .onConflictDoNothing();

  await db
    .insert(reminders)
    .values([
      {
        id: "00000000-0000-4000-8000-000000003001",
        userId: alice.id,
        message: "Call the registrar about the domain",
        remindAt: at(4 * HOUR),
      },
      {
        id: "00000000-0000-4000-8000-000000003002",
        userId: bob.id,
        message: "Send the launch email to legal",
        remindAt: at(6 * HOUR),
        todoId: "00000000-0000-4000-8000-000000001004",
      },
    ])
    .onConflictDoNothing();

  for (const agent of DEMO_AGENTS) {
    // Hashed afresh each run (a new salt): the demo password in this file stays the one that works.
    const passwordHash = await hashPassword(agent.password);
    const { password: _, ...row } = agent;
    await db
      .insert(humanAgents)
      .values({ ...row, passwordHash })
      .onConflictDoUpdate({ target: humanAgents.id, set: { passwordHash } });
  }
}
