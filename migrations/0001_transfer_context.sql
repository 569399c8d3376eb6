CREATE TABLE "agent_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"transfer_id" uuid,
	"session_id" text,
	"remote_identity" text NOT NULL,
	"outcome" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"answered_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"disposition" text,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "transfers" ALTER COLUMN "status" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "transfers" ALTER COLUMN "status" SET DEFAULT 'requested'::text;--> statement-breakpoint
UPDATE "transfers" SET "status" = CASE "status" WHEN 'answered' THEN 'connected' WHEN 'completed' THEN 'ended' WHEN 'cancelled' THEN 'failed' ELSE "status" END;--> statement-breakpoint
DROP TYPE "public"."transfer_status";--> statement-breakpoint
CREATE TYPE "public"."transfer_status" AS ENUM('requested', 'dialing', 'ringing', 'connected', 'ended', 'failed');--> statement-breakpoint
ALTER TABLE "transfers" ALTER COLUMN "status" SET DEFAULT 'requested'::"public"."transfer_status";--> statement-breakpoint
ALTER TABLE "transfers" ALTER COLUMN "status" SET DATA TYPE "public"."transfer_status" USING "status"::"public"."transfer_status";--> statement-breakpoint
ALTER TABLE "human_agents" ADD COLUMN "password_hash" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "ended_by" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "summary" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "caller" jsonb;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "transcript" jsonb;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_calls" ADD CONSTRAINT "agent_calls_agent_id_human_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."human_agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_calls" ADD CONSTRAINT "agent_calls_transfer_id_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "public"."transfers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_sessions" ADD CONSTRAINT "agent_sessions_agent_id_human_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."human_agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_calls_agent_idx" ON "agent_calls" USING btree ("agent_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "agent_sessions_token_hash_key" ON "agent_sessions" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "transfers_department_idx" ON "transfers" USING btree ("department","requested_at");