"""dunningd's ISO 4217 table against two sources it did not write: the code list of Debian's
iso-codes package and the exponents of java.util.Currency (the JDK's ISO 4217 data).

Every active code of iso-codes with a minor unit must be in the table with the JDK's exponent;
codes without one (XAU, XDR, XXX...) must not be. The table may hold only the named amendments
newer than the installed iso-codes list."""
import json
import subprocess
import sys

ISO_CODES = "/usr/share/iso-codes/json/iso_4217.json"
# ISO 4217 amendments newer than Debian 12's iso-codes 4.15 (exponent from the amendment).
NEWER = {"ZWG": 2, "XCG": 2}
# Exponents the JDK 17 data does not know (UYW was added to ISO 4217 in 2018 with exponent 4).
NOT_IN_JDK = {"UYW": 4}


def main(printer, java_source):
    ours = dict((c, int(e)) for c, e in (line.split() for line in subprocess.run(
        [printer], check=True, capture_output=True, text=True).stdout.splitlines()))
    with open(ISO_CODES, encoding="utf-8") as f:
        codes = sorted(c["alpha_3"] for c in json.load(f)["4217"])
    jdk = dict(line.split() for line in subprocess.run(
        ["java", java_source, *codes], check=True, capture_output=True, text=True,
        timeout=120).stdout.splitlines())
    problems = []
    for code in codes:
        expected = NOT_IN_JDK.get(code, jdk[code])
        expected = int(expected) if expected != "unknown" else -1
        got = ours.get(code, -1)
        if got != expected:
            problems.append(f"{code}: table {got}, ISO 4217 (JDK) {expected}")
    for code in sorted(set(ours) - set(codes)):
        if NEWER.get(code) != ours[code]:
            problems.append(f"{code}: in the table but not in ISO 4217 (iso-codes)")
    checked = sum(1 for c in codes if ours.get(c, -1) >= 0)
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{checked} currencies with a minor unit agree with iso-codes and java.util.Currency "
          f"(RSD {ours['RSD']}, IQD {ours['IQD']}, ISK {ours['ISK']}, KWD {ours['KWD']}, "
          f"CLF {ours['CLF']}); {len(codes) - checked} without one are refused")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
