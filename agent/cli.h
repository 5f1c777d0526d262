/*
 * cli — the `cairn` command-line client: every command except `agent`.
 *
 * Commands talk to the local agent's HTTP API (api/client.h) and print
 * what Consul's CLI prints, with the same exit codes (0 ok, 1 error;
 * `members` returns 2 when no member matches), so scripts written for
 * `consul kv ...`, `consul members` and friends keep working:
 *
 *   cairn kv get|put|delete|export|import ...
 *   cairn members [-detailed] [-status=REGEX] [-wan]
 *   cairn reload
 *   cairn version
 *   cairn help [command]
 *
 * Flags follow Go's flag package: -flag=value, -flag value, --flag,
 * booleans as -flag or -flag=false, parsing stops at the first argument
 * that is not a flag or at "--". -h, -help or --help anywhere (before "--")
 * prints the command's help to stdout and exits 0.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

/* Run a command. argv[0] is the program name, argv[1] the command
 * ("kv", "members", ...), the rest its arguments. Output goes to stdout,
 * errors to stderr. Returns the process exit code. */
int cli_main(int argc, char **argv);

#endif
