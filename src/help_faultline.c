/*
 * help_faultline.c - what `faultline --help`, `faultline CMD --help`,
 * faultline(1) and its bash completion say (help.h renders it).  Each
 * subcommand's parser prints its entry here; tests/help.sh checks that
 * every option a parser takes is described here and that every option
 * described here is taken.  The words an argument may be (models, modes,
 * tear kinds, claims) come from the parsers' own tables, at the end.
 */
#include "audit.h"
#include "explore.h"
#include "help.h"
#include "help_faultline.h"
#include "model.h"

static const struct help_opt record_opts[] = {
	{"-o TRACE, --output TRACE",
	 "The trace directory to write (default faultline.trace).  It must not exist, or be an "
	 "earlier trace, which is replaced."},
	{"--setup CMD",
	 "Run CMD (sh -c, not recorded) in a fresh directory, or in the copy --from made; that "
	 "directory becomes TRACE/base, where every crash state starts."},
	{"--from DIR", "Copy DIR into TRACE/base before --setup (cp -a)."},
	{"--real-fsync",
	 "Pass fsync, fdatasync and synchronous writes through to the backing directory (native "
	 "timing).  By default barriers are recorded, not paid."},
	{"--keep-final", "Keep the tree the workload left behind as TRACE/final."},
	{"--allow-other", "Let other users enter the mount (FUSE allow_other)."},
	{"--calls",
	 "Watch CMD's system calls too, static binaries and raw syscalls included: every op is "
	 "joined to the call that made it and where it was made (function, file:line where "
	 "there is debug information), which show, explanations and causes name; a successful "
	 "sync(), or syncfs() on a file under the mount, becomes a syncfs barrier in the trace, "
	 "which FUSE alone never sees; and the pages of shared writable mappings of files under "
	 "the mount are captured at each call, so the models may persist them early.  A call "
	 "that makes a request (a write, an fsync, an open, a rename...) is found by "
	 "faultline-fs while the caller waits on that request, from the kernel's sample of the "
	 "call's entry (or /proc/TID/syscall), with no stop; only the calls that make none "
	 "(sync, syncfs, msync, sync_file_range, munmap, a shared mmap, io_uring) stop at a "
	 "seccomp filter."},
	{"--backing DIR",
	 "Make the backing directory inside DIR (default inside TRACE), e.g. on a small file "
	 "system, to see how the workload meets ENOSPC."},
	{NULL, NULL},
};

static const struct help_opt show_opts[] = {
	{"--json", "The stable JSON form: trace status, base and every record."},
	{"--data", "With --json: the bytes of every write, in hex."},
	{NULL, NULL},
};

/* Options explore, states and run share (the state space). */
#define SPACE_OPTS                                                                              \
	{"--model M",                                                                           \
	 "Persistence model: strict, posix (default) or ext4-ordered (rules: src/model.c)."},    \
	{"--mode MODE",                                                                         \
	 "Which states each crash point has: prefix, omit-one (default), bounded:K (K <= 8), "  \
	 "random:N (N states drawn with --seed) or exhaustive (every legal state where at "     \
	 "most --window ops are in flight, else bounded:2)."},                                  \
	{"--sector N", "Sector size in bytes for tears (default 512)."},                        \
	{"--tear KINDS",                                                                        \
	 "Which damaged sector contents a tear may have: a list of old, new, zero, garbage "    \
	 "(default all)."},                                                                     \
	{"--atomic N", "Aligned writes of up to N bytes are all-or-nothing."},                  \
	{"--block N",                                                                           \
	 "Tears widen to whole N-byte blocks, and clean sectors of a torn block may be "        \
	 "damaged too (copy-on-write file systems, large-page devices)."},                      \
	{"--window N", "exhaustive: the largest in-flight set enumerated (default 8, at most 24)."}, \
	{"--seed S", "random:N: the seed of the draws (default 0)."},                          \
	{"--partial",                                                                           \
	 "Use the valid prefix of a trace whose recording did not finish (else refused with "   \
	 "exit 2); reports say the trace is partial."}

static const struct help_opt explore_opts[] = {
	{"--check CMD",
	 "The recovery check: sh -c CMD runs in a private copy of each unique state, with "
	 "FAULTLINE_STATE_DIR, FAULTLINE_STATE_ID and FAULTLINE_MARKS set; exit 0 means the "
	 "state is fine."},
	{"--check-server CMD",
	 "A warm checker instead: CMD starts once per job and answers one line per state (see "
	 "CHECKERS)."},
	SPACE_OPTS,
	{"-j N, --jobs N", "Checkers run at once (default: the number of CPUs)."},
	{"--shard K/N",
	 "Check only shard K of N (states by content key); faultline merge joins the shards' "
	 "JSON reports into the unsharded report."},
	{"--timeout SEC", "A checker running longer fails its state (default 60)."},
	{"--budget SEC",
	 "Stop generating states after SEC seconds; the rest is counted, and the coverage and "
	 "note say how much was explored."},
	{"--max-causes N",
	 "Stop once N distinct causes are found and confirmed (N = 1: does it fail at all?)."},
	{"--order sweep|spread",
	 "Crash points first to last (sweep), or 16, then 256 spread over the trace, then the "
	 "rest (spread: the default with --max-causes).  The states are the same."},
	{"--json FILE", "Write the report as JSON."},
	{"--junit FILE", "Write the report as JUnit XML (one test case per cause and per state)."},
	{"--keep-failures DIR",
	 "Keep each failing state in DIR, with a script that rebuilds and re-checks it."},
	{"--workdir DIR", "Build states under DIR (default a temporary directory in TMPDIR)."},
	{"--scratch auto|dir|xfs|mem",
	 "Where states are built: auto (a private tmpfs when the states fit the budget and "
	 "faultline is root, else reflinks or copies on the work directory), dir, xfs (a "
	 "loop-mounted XFS image, for reflinks) or mem (tmpfs, or fail)."},
	{"--scratch-budget MIB", "Memory a tmpfs scratch may use (default 1024)."},
	{"--no-progress", "No progress line on a terminal."},
	{"--list-states FILE",
	 "Write one line per generated state (- for stdout): id, key, marks, status."},
	{NULL, NULL},
};

static const struct help_opt states_opts[] = {
	SPACE_OPTS,
	{"--reference",
	 "List the reference enumerator's states (the definition, by brute force, in memory) "
	 "instead of the explorer's."},
	{"--crash SEQ", "Only the states of the crash during record SEQ."},
	{"-o FILE, --output FILE", "Write the list to FILE (default stdout)."},
	{NULL, NULL},
};

static const struct help_opt replay_opts[] = {
	{"--into DIR", "Build the state in DIR, which must not exist (default faultline-state)."},
	{"--check CMD", "Then run the check on it, as explore does; exit 1 if it fails."},
	{"--check-server CMD", "Then check it through a warm checker, as explore does."},
	{"--timeout SEC", "The checker's time limit (default 60)."},
	{"--partial", "Replay from the valid prefix of an unfinished recording."},
	{NULL, NULL},
};

static const struct help_opt mount_opts[] = {
	{"--backing DIR", "The directory served (required); a crash rewrites it."},
	{"--trace TRACE", "A new or empty directory for the epochs' traces (default "
			  "faultline.trace): TRACE/epoch-N, one per crash, and TRACE/crashes."},
	{"--model M", "Persistence model a crash draws its state from (default posix)."},
	{"--daemon",
	 "Return once the mount is up, serving in the background; what it says then goes to "
	 "TRACE/mount.log."},
	{"--pid-file FILE", "Write the serving process's pid to FILE (removed when it stops)."},
	{"--allow-other", "Let other users enter the mount (FUSE allow_other)."},
	{"--trace-keep N",
	 "Keep the epochs of the last N crashes only (and the one being recorded; each holds the "
	 "directory as the epoch began, sharing the files no epoch changed); by default every "
	 "epoch stays, so that every crash replays."},
	{"--fold-size MIB",
	 "Fold the epoch being recorded once its records pass MIB mebibytes (default 64; 0 "
	 "never): every op no crash can lose any more goes into a new base, recording goes on as "
	 "the next epoch with the rest, and the old epoch goes (no crash drew from it).  An op "
	 "that never becomes durable keeps what follows it on the same files."},
	{NULL, NULL},
};

static const struct help_opt crash_opts[] = {
	{"--seed S", "Draws the state (default: from the clock; printed)."},
	{"--how HOW",
	 "lose-unsynced (default): every op no barrier covered is lost; model: each is kept or "
	 "lost as the model allows; torn: as model, and a kept write may tear."},
	{"--kill", "First SIGKILL every process with a file, a mapping or its cwd in the mount."},
	{"--when WHEN",
	 "Crash in a window, not now: fsync:GLOB as the next fsync of a file matching GLOB "
	 "begins (it never completes), writes:N:GLOB once the Nth write to such files is "
	 "done but not answered.  GLOB matches the path below the mount, or the last "
	 "component when it has no '/'.  One DIR only."},
	{"--timeout SEC", "How long --when waits for its window (default 600); then nothing "
			  "crashes and the exit is 3."},
	{NULL, NULL},
};

static const struct help_opt merge_opts[] = {
	{"--json FILE", "Write the merged report as JSON."},
	{"--junit FILE", "Write the merged report as JUnit XML."},
	{NULL, NULL},
};

static const struct help_opt explain_opts[] = {
	{"--model M", "Persistence model (default posix)."},
	{"--page N", "Page size in bytes (default 4096)."},
	{"--block N", "Device block size: pages beside an in-flight write in the same block are "
		      "collateral."},
	{"--json FILE", "Every page of every file at every moment, as JSON."},
	{"--html FILE", "A self-contained heat map per file (pages down, moments across)."},
	{"--partial", "Explain the valid prefix of an unfinished recording."},
	{NULL, NULL},
};

static const struct help_opt audit_opts[] = {
	{"--check CMD", "The recovery check, as for explore (a SCENARIO brings its own)."},
	{"--check-server CMD", "A warm checker instead, as for explore."},
	{"--claims LIST",
	 "What the engine declares it needs: an ordering (strict, ext4-ordered, posix) and a "
	 "device (whole, page-atomic, sector-atomic, torn, block16k, block64k), e.g. "
	 "posix,sector-atomic.  Exit 0 when it holds there, 1 when it needs more (default: "
	 "posix,block64k, the weakest)."},
	{"--mode MODE", "The states of each cell: prefix, omit-one (default), bounded:K or "
			"exhaustive."},
	{"--sector N", "Sector size in bytes (default 512)."},
	{"--window N", "exhaustive: the largest in-flight set enumerated (default 8)."},
	{"--seed S", "Kept for the explorations (random:N is not offered)."},
	{"-j N, --jobs N", "Checkers run at once (default: the number of CPUs)."},
	{"--timeout SEC", "A checker running longer fails its state (default 60)."},
	{"--budget SEC", "Each cell's exploration stops generating after SEC seconds."},
	{"--json FILE", "Write the matrix, the verdict and the claims as JSON (- for stdout)."},
	{"--html FILE",
	 "Write the matrix as one self-contained page: each failing cell links to its causes, "
	 "each with a representative state, its explanation, the checker's output and the "
	 "replay command.  For a SCENARIO the recording is kept beside it (FILE.html becomes "
	 "FILE.trace) unless --keep-trace says where."},
	{"--keep-trace DIR", "SCENARIO only: keep its recording as the trace DIR (replaced if it "
			     "is an earlier trace), so its states can be replayed."},
	{"--no-progress", "No line on stderr as each cell finishes."},
	{"--partial", "Audit the valid prefix of an unfinished recording."},
	{NULL, NULL},
};

static const struct help_cmd cmds[] = {
	{"record", "[-o TRACE] [--setup CMD] [--from DIR] [--real-fsync] [--keep-final]\n"
		   "    [--allow-other] [--backing DIR] [--calls] -- CMD [ARG...]",
	 "Runs CMD with its working directory at a FUSE mount (FAULTLINE_MNT) and records every "
	 "write, barrier, truncate and namespace operation it makes there, with the bytes, in "
	 "TRACE.  A line written to $FAULTLINE_MNT/.faultline-ctl (\"commit 42\") becomes a mark: "
	 "what the program has acknowledged as durable.  A command word that is a relative path "
	 "naming a file in the current directory (./wl.sh) is made absolute first.  Exit 0 "
	 "recorded and CMD succeeded, 1 CMD failed (the trace is kept), 2 usage or --setup "
	 "failed, 3 no usable FUSE or the recorder failed.",
	 record_opts},
	{"show", "TRACE [--json] [--data]",
	 "Prints the trace, one record per line (seq, pid, op, path, arguments), and whether it "
	 "is whole.",
	 show_opts},
	{"explore",
	 "TRACE --check CMD|--check-server CMD [--model M] [--mode MODE]\n"
	 "    [--sector N] [--tear KINDS] [--atomic N] [--block N] [--window N] [--seed S]\n"
	 "    [-j N] [--shard K/N] [--timeout SEC] [--budget SEC] [--max-causes N]\n"
	 "    [--order sweep|spread] [--json FILE] [--junit FILE] [--keep-failures DIR]\n"
	 "    [--workdir DIR] [--scratch auto|dir|xfs|mem] [--scratch-budget MIB]\n"
	 "    [--no-progress] [--list-states FILE] [--partial]",
	 "Builds every crash state the model and mode allow at every crash point, checks each "
	 "unique one, and groups the failures into causes (a minimal failing state each, in "
	 "words).  Exit 0 every checked state passed, 1 some failed, 2 bad trace or options, 3 "
	 "environment.",
	 explore_opts},
	{"states",
	 "TRACE [--reference] [--crash SEQ] [--model M] [--mode MODE] [--sector N]\n"
	 "    [--tear KINDS] [--atomic N] [--block N] [--window N] [--seed S] [-o FILE] [--partial]",
	 "Lists every crash state the mode generates, without checking: id, key (content and "
	 "acknowledged marks, hex), marks, status (unique or duplicate).",
	 states_opts},
	{"replay",
	 "TRACE STATE_ID [--into DIR] [--check CMD | --check-server CMD] [--timeout SEC]\n"
	 "    [--partial]",
	 "Rebuilds one crash state from its id (such as c812-d790-t801:4n4o: crash during record "
	 "812, op 790 lost, op 801 torn), byte for byte, and optionally checks it.",
	 replay_opts},
	{"mount",
	 "DIR --backing DIR [--trace TRACE] [--model M] [--daemon] [--pid-file FILE]\n"
	 "    [--trace-keep N] [--fold-size MIB] [--allow-other]",
	 "Serves the backing directory at DIR through faultline-fs and records it until SIGTERM, "
	 "for a server that never exits; faultline crash cuts its power.  Each crash (and each "
	 "fold of settled history) starts a new epoch, TRACE/epoch-N, an ordinary trace.  Exit 0 stopped by a signal, 2 bad usage, 3 "
	 "environment.",
	 mount_opts},
	{"crash", "DIR... [--seed S] [--how lose-unsynced|model|torn] [--kill]\n"
		  "    [--when fsync:GLOB|writes:N:GLOB] [--timeout SEC]",
	 "Cuts the power of the faultline mount at DIR: requests fail from that instant, the "
	 "backing directory is rewritten to a crash state the model allows at that instant, and "
	 "DIR is served again.  Several DIRs lose power together (each asked before any answer "
	 "is awaited), each drawing its own state with the same seed.  Prints each state's id "
	 "and replay command.  From inside the mount, writing the line \"\\001crash [HOW "
	 "[SEED]]\" to DIR/.faultline-ctl asks for the same cut.  Exit 0 crashed, 2 bad usage, 3 a DIR is not served by faultline "
	 "mount or its crash failed.",
	 crash_opts},
	{"merge", "RESULT.json... [--json FILE] [--junit FILE]",
	 "Joins the JSON reports of the shards of one exploration (--shard K/N) into the report "
	 "the unsharded run would have written.",
	 merge_opts},
	{"run", "SCENARIO [explore options]",
	 "Records and explores a scenario file (record and explore in a private work "
	 "directory), then compares the verdict with its expect (and its causes).  Explore "
	 "options given after SCENARIO override the file's.  Exit 0 as expected, 1 not, 2 bad "
	 "scenario or the workload failed, 3 environment.",
	 NULL},
	{"explain", "TRACE [--model M] [--page N] [--block N] [--json FILE] [--html FILE]\n"
		    "    [--partial]",
	 "For each file and page, just before every barrier, at every mark and at the end: "
	 "durable, old-or-new, may-tear, may-vanish or collateral, over every crash state the "
	 "model allows in which the file exists; and apart, the file's name: durable, "
	 "may-vanish (a create, link, rename or unlink naming it is in flight) or absent.",
	 explain_opts},
	{"audit",
	 "TRACE --check CMD|--check-server CMD [--claims LIST] [--mode MODE] [-j N]\n"
	 "    [--timeout SEC] [--budget SEC] [--sector N] [--window N] [--seed S]\n"
	 "    [--json FILE] [--html FILE] [--no-progress] [--partial]\n"
	 "SCENARIO.ini [--claims LIST] [--keep-trace DIR] [same options]",
	 "Explores one recording under a matrix of assumptions and says which the engine "
	 "relies on.  Rows are orderings (strict, ext4-ordered, posix), columns device "
	 "assumptions (whole writes; 4 KiB-aligned writes atomic; sector-atomic; torn "
	 "sectors read as zeros or garbage; damage to whole 16 KiB and 64 KiB blocks), each "
	 "from the strongest to the weakest.  A state is checked once, whichever cells it "
	 "belongs to.  The verdict names the weakest ordering and device it survives and the "
	 "first cause just past each.  A SCENARIO.ini is recorded first and brings its "
	 "checker.",
	 audit_opts},
	{NULL, NULL, NULL, NULL},
};

static const struct help_section sections[] = {
	{"EXIT STATUS",
	 "0: success (every state passed; the command did what was asked).\n"
	 "1: a failure was found (a state failed its check; the recorded command failed; run: "
	 "the verdict differs from the scenario's expect).\n"
	 "2: usage or bad input: a malformed trace, scenario or option (one line on stderr "
	 "says why).\n"
	 "3: environment: no usable FUSE, a mount failed, out of memory or disk."},
	{"ENVIRONMENT",
	 "FAULTLINE_MNT: set for the recorded command: the mount it runs in.\n"
	 "FAULTLINE_STATE_DIR, FAULTLINE_STATE_ID, FAULTLINE_MARKS: set for a checker: the "
	 "state's directory (also its working directory), its id, and a file holding the marks "
	 "acknowledged before the crash, one per line.\n"
	 "FAULTLINE_FS: the faultline-fs binary to record with (default: the one beside "
	 "faultline or in its build tree, else faultline-fs in PATH).\n"
	 "TMPDIR: where temporary work directories go (default /tmp).\n"
	 "FAULTLINE_CALLS_PTRACE=1: record --calls stops each call it stops with ptrace instead "
	 "of seccomp user notification (what it falls back to on a kernel without it).\n"
	 "FAULTLINE_CALLS_NOSITES=1: record --calls leaves out where each call was made.\n"
	 "FAULTLINE_CALLS_NOPERF=1: record --calls reads each call from /proc/TID/syscall "
	 "instead of the kernel's samples of the calls' entries (what it falls back to without "
	 "tracefs or the right to trace).\n"
	 "FAULTLINE_CALLS_STATS=1: faultline-fs says, as it ends, how many calls it found each "
	 "way.\n"
	 "FAULTLINE_VERIFY_CAUSES=1: also build every state of the cause search from the bare "
	 "base and compare (slow; for tests)."},
	{"CHECKERS",
	 "A --check command runs once per unique state, in a private copy of it that it may "
	 "change, in its own process group; exit 0 says the state is fine, anything else (or a "
	 "signal, or the --timeout) fails it, and what it printed is the state's output.\n"
	 "\n"
	 "A --check-server command starts once per job and reads one request per line: the "
	 "state's directory, id and marks file, separated by tabs.  For each it answers one "
	 "line on stdout: \"ok\", or \"fail\" with an optional reason (\"fail exit 3\" and "
	 "\"fail signal 11\" are reported as that exit or signal).  What it writes to stderr "
	 "while a state is out is that state's output.  A server that hangs, dies or answers "
	 "anything else fails that state and is replaced.  For checkers in C, "
	 "faultline_checker.h serves check() in a child per state (faultline_serve) or, for a "
	 "check that cleans up after itself, in the server (faultline_serve_in_process)."},
	{"EXAMPLES",
	 "Record a workload, explore it, replay a failure:\n"
	 "\n"
	 "  faultline record -o t --setup './wl.sh init' -- ./wl.sh run 20\n"
	 "  faultline explore t --check './wl.sh check' --json report.json\n"
	 "  faultline replay t c812-d790 --into /tmp/s --check './wl.sh check'\n"
	 "\n"
	 "A CI gate that asks only whether recovery fails at all:\n"
	 "\n"
	 "  faultline explore t --check ./check.sh --max-causes 1 --junit junit.xml\n"
	 "\n"
	 "Four CI jobs, one shard each, then one report:\n"
	 "\n"
	 "  faultline explore t --check ./check.sh --shard 2/4 --json s2.json\n"
	 "  faultline merge s1.json s2.json s3.json s4.json --junit junit.xml"},
	{NULL, NULL},
};

/* ---- shell completion: argument words from the tables the parsers read ---- */

static size_t model_words(const char **out, size_t cap)
{
	size_t n, i;
	const struct model *m = model_all(&n);

	for (i = 0; i < n && i < cap; i++)
		out[i] = m[i].name;
	return i;
}

/* explore's modes, or audit's: every one but random:N (audit_cmd.c refuses it). */
static size_t modes(const char **out, size_t cap, bool random)
{
	enum explore_mode mode;
	const char *w;
	size_t i, n = 0;

	for (i = 0; n < cap && (w = explore_mode_word(i, &mode)); i++)
		if (random || mode != EXPLORE_RANDOM)
			out[n++] = w;
	return n;
}

static size_t mode_words(const char **out, size_t cap)
{
	return modes(out, cap, true);
}

static size_t audit_mode_words(const char **out, size_t cap)
{
	return modes(out, cap, false);
}

static size_t tear_words(const char **out, size_t cap)
{
	size_t n;

	for (n = 0; n < cap && (out[n] = explore_tear_word(n)); n++)
		;
	return n;
}

/* --claims: orderings and devices, any of them, as audit_parse_claims reads a list. */
static size_t claim_words(const char **out, size_t cap)
{
	size_t n = 0, i;

	for (i = 0; i < AUDIT_ROWS && n < cap; i++)
		out[n++] = audit_rows[i];
	for (i = 0; i < AUDIT_COLS && n < cap; i++)
		out[n++] = audit_cols[i].name;
	return n;
}

static const struct help_arg args[] = {
	{"audit", "--mode", audit_mode_words, false},
	{NULL, "--mode", mode_words, false},
	{NULL, "--model", model_words, false},
	{NULL, "--tear", tear_words, true},
	{NULL, "--claims", claim_words, true},
	{NULL, NULL, NULL, false},
};

/* run passes the options after SCENARIO to explore. */
static const char *const shared_opts[] = {"run", "explore", NULL};

const struct help_page help_faultline = {
	.program = "faultline",
	.man_section = 1,
	.summary = "crash-consistency test harness and fault injector",
	.about = "faultline records what a program does to its files through a FUSE file system, "
		 "builds the states a crash could have left on disk under a persistence model "
		 "(operations lost, reordered or torn sector by sector), and runs the program's "
		 "own recovery check on each.  A failure comes back with an id that rebuilds its "
		 "state and a cause in words.",
	.cmds = cmds,
	.sections = sections,
	.see_also = "faultline-fs(8)",
	.args = args,
	.shared_opts = shared_opts,
};
