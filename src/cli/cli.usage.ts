import { EXIT_CODE_MEANINGS } from './cli.errors';

export type CommandName = 'tools' | 'call' | 'health' | 'watch';

const ENVIRONMENT = `Environment:
  EXAI_WS_URL       daemon URL, e.g. ws://127.0.0.1:8079/ (or EXAI_WS_HOST + EXAI_WS_PORT,
                    default 127.0.0.1:8079)
  EXAI_WS_TOKEN     the daemon's auth token (never printed)
  EXAI_SESSION_ID   session to join; calls share that session's concurrency limit`;

function exitCodes(): string {
  return `Exit codes:\n${EXIT_CODE_MEANINGS.map(([code, meaning]) => `  ${String(code).padEnd(5)}${meaning}`).join('\n')}`;
}

export const MAIN_USAGE = `Usage: exai <command> [options]

Talks to a running EXAI Gateway daemon over its WebSocket.

Commands:
  tools               list the daemon's tools
  call <tool>         call a tool and print its result
  health              show the daemon's health
  watch               live view of in-flight calls, queue, circuits and recent calls
  help [command]      show help for a command

Options:
  -h, --help          show help (also: exai <command> --help)
  -v, --version       print the version

${ENVIRONMENT}

${exitCodes()}
`;

const COMMAND_USAGE: Record<CommandName, string> = {
  tools: `Usage: exai tools [--json]

Lists the daemon's tools: name and the first line of the description.

Options:
  --json              print the raw listing (name, description, inputSchema) as JSON
  -h, --help          show this help
`,
  call: `Usage: exai call <tool> [--arg key=value]... [--json '{...}'] [--raw]

Calls a tool and prints the result's content on stdout. While it runs, progress
goes to stderr (a spinner on a terminal). Ctrl-C cancels the call on the daemon.

Options:
  -a, --arg key=value  one argument; repeatable. The value is converted to the type
                       the tool's schema gives the key: --arg prompt=123 is the
                       string "123", --arg delay_ms=50 the number 50, objects and
                       arrays as JSON. Keys the schema does not type are parsed as
                       JSON when valid (3, true, {"a":1}), else taken as a string
  -j, --json '{...}'   the whole arguments object as JSON; --arg keys are set on top
  --raw                print the full ToolOutput JSON text instead of its content
  -h, --help           show this help; exai call <tool> --help lists that tool's
                       parameters from its schema

Example:
  exai call chat --arg prompt='What is 2+2?' --arg model=auto

${exitCodes()}
`,
  health: `Usage: exai health [--json]

Shows the daemon's health: status, gateway connections and sessions, in-flight
calls against each concurrency limit and the queue, providers (mode, circuit,
last error), the routing cache hit ratio and the last leak audit.

Options:
  --json              print the raw health snapshot as JSON
  -h, --help          show this help
`,
  watch: `Usage: exai watch [--interval MS] [--once]

A live view, redrawn every second: in-flight calls against each limit, the
queue, the provider circuits, and recent calls per tool and outcome (from the
daemon's /metrics on the same port; the change column counts calls finished
since the previous frame). Ctrl-C quits.

Options:
  --interval MS       refresh period in milliseconds (default 1000, minimum 100)
  --once              render one frame and exit
  -h, --help          show this help
`,
};

export function commandUsage(command: CommandName): string {
  return `${COMMAND_USAGE[command]}\n${ENVIRONMENT}\n`;
}
