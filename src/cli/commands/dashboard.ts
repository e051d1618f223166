/** `twoloop dashboard`: serve the store read-only in the browser until Ctrl-C. */
import { Effect, Option, Redacted } from "effect"
import { Command, Flag } from "effect/cli"
import { startupRefusal } from "../../dashboard/access.ts"
import { ConfigError } from "../../domain/errors.ts"
import { configFlag, locateStore, printLine, storeFlag } from "../shared.ts"
import { fullEnvironment } from "../../common/secrets.ts"

export const dashboardCommand = Command.make(
  "dashboard",
  {
    config: configFlag,
    store: storeFlag,
    host: Flag.String("host").pipe(
      Flag.withDescription("address to bind; anything but loopback (127.0.0.1, ::1, localhost) needs a token"),
      Flag.withDefault("127.0.0.1"),
    ),
    port: Flag.Int("port").pipe(Flag.withDescription("port to listen on (0: any free port)"), Flag.withDefault(0)),
    token: Flag.Redacted("token").pipe(
      Flag.withDescription("a secret every request must carry (Authorization: Bearer, or ?token= once); default: $TWOLOOP_DASHBOARD_TOKEN"),
      Flag.optional,
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const fromEnv = fullEnvironment().TWOLOOP_DASHBOARD_TOKEN
      const token = Option.isSome(flags.token) ? Redacted.value(flags.token.value) : fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined
      const refusal = startupRefusal(flags.host, token)
      if (refusal !== undefined) return yield* new ConfigError({ message: refusal })
      const located = yield* locateStore(flags.config, flags.store)
      // loaded on demand: the server and its dependencies cost every other command's start-up nothing
      const { openDashboard, untilSignal } = yield* Effect.promise(() => import("../../dashboard/openDashboard.ts"))
      yield* Effect.gen(function* () {
        const dashboard = yield* openDashboard({ file: located.file, host: flags.host, port: flags.port, token })
        yield* printLine(`dashboard: ${dashboard.url} (store ${located.file}, read-only; Ctrl-C to stop)`)
        if (dashboard.tokenRequired) yield* printLine("  every request must carry the token: open the URL once with ?token=<token>, or send Authorization: Bearer <token>")
        yield* untilSignal
      }).pipe(Effect.scoped)
    }),
).pipe(Command.withDescription("look at runs in the browser: a local, read-only web app that updates live while a run writes"))
