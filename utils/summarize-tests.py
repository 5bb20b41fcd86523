"""Prints 'lit: N passed, N failed, N skipped' from lit's xunit output."""

import sys
import xml.etree.ElementTree as ElementTree

try:
    root = ElementTree.parse(sys.argv[1]).getroot()
except (OSError, ElementTree.ParseError) as error:
    print(f"lit: no test results ({error})")
    sys.exit(1)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
# Which targets' code ran here (test/lit.cfg.py wrote them): the others
# were checked in assembly, AArch64 under qemu.
try:
    import os
    with open(os.path.join(os.path.dirname(sys.argv[1]), "test", "host-targets.txt")) as f:
        print(f"lit: executed code for {', '.join(f.read().split())} (this CPU); "
              "other x86 targets checked in assembly, AArch64 run under qemu")
except OSError:
    pass
print(f"lit: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or total == 0 else 0)
