# dmaverify's second decision procedure: Bitwuzla (PyPI `bitwuzla`, the
# solver's own Python binding) answering SMT-LIB 2 queries over a pipe.
# Started by Solver/SMTLibOracle.swift, which embeds this file.
#
# Protocol, one query at a time: dmaverify writes a line
# "<timeout ms> <byte count>", then that many bytes of SMT-LIB 2 (the
# assertions, no check-sat); this answers one line: "sat", "unsat",
# "unknown", or "error <message>". At start it writes "ready <version>", or
# "unavailable <reason>" and exits when the module cannot be imported.
# End of input ends it.
import sys

try:
    import bitwuzla
except ImportError as error:
    sys.stdout.write("unavailable %s\n" % str(error).replace("\n", " "))
    sys.stdout.flush()
    sys.exit(0)

answers = {bitwuzla.Result.SAT: "sat", bitwuzla.Result.UNSAT: "unsat"}
sys.stdout.write("ready %s\n" % bitwuzla.version())
sys.stdout.flush()
requests = sys.stdin.buffer
while True:
    header = requests.readline()
    if not header:
        break
    try:
        milliseconds, size = (int(field) for field in header.split())
        script = requests.read(size).decode("utf-8")
        options = bitwuzla.Options()
        options.set(bitwuzla.Option.TIME_LIMIT_PER, milliseconds)
        parser = bitwuzla.Parser(bitwuzla.TermManager(), options)
        parser.parse(script, False, False)
        answer = answers.get(parser.bitwuzla().check_sat(), "unknown")
    except Exception as error:
        answer = "error %s" % str(error).replace("\n", " ")
    sys.stdout.write(answer + "\n")
    sys.stdout.flush()
