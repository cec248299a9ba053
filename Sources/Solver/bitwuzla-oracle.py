# dmaverify's second decision procedure: Bitwuzla (PyPI `bitwuzla`, the
# solver's own Python binding) answering SMT-LIB 2 queries over a pipe.
# Started by Solver/SMTLibOracle.swift, which embeds this file.
#
# Protocol, one query at a time: dmaverify writes a line
# "<timeout ms> <byte count> <term count>", then that many bytes of SMT-LIB 2
# (the assertions, no check-sat), then <term count> lines, each a term of
# the script (a constant's name) whose value it wants when the answer is
# sat. This answers one line: "sat" followed by those values (decimal; a
# Boolean as 1 or 0), "unsat", "unknown", or "error <message>". At start it
# writes "ready <version>", or "unavailable <reason>" and exits when the
# module cannot be imported. End of input ends it.
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
        milliseconds, size, count = (int(field) for field in header.split())
        script = requests.read(size).decode("utf-8")
        wanted = [requests.readline().decode("utf-8").rstrip("\n") for _ in range(count)]
        options = bitwuzla.Options()
        options.set(bitwuzla.Option.TIME_LIMIT_PER, milliseconds)
        options.set(bitwuzla.Option.PRODUCE_MODELS, count > 0)
        parser = bitwuzla.Parser(bitwuzla.TermManager(), options)
        parser.parse(script, False, False)
        solver = parser.bitwuzla()
        answer = answers.get(solver.check_sat(), "unknown")
        if answer == "sat" and wanted:
            values = []
            for text in wanted:
                value = solver.get_value(parser.parse_term(text))
                values.append(value.value(10) if value.sort().is_bv() else ("1" if value.value() else "0"))
            answer = " ".join(["sat"] + values)
    except Exception as error:
        answer = "error %s" % str(error).replace("\n", " ")
    sys.stdout.write(answer + "\n")
    sys.stdout.flush()
