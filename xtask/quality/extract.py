#!/usr/bin/env python3
"""Builds the independent evaluation corpus of `cargo xtask quality` at run
time from public test suites fetched by the user (nothing fetched is stored
in this repository):

- gitleaks `cmd/generate/config/rules/*.go`: each rule's `tps` (true
  positives) and `fps` (false positives), evaluated from the Go source:
  string literals, `+`, `[]string{...}`, `append`, `map[string]string{...}`
  and gitleaks' own helpers (`secrets.NewSecret` draws a random string from
  a regex, with a fixed seed; `utils.GenerateSampleSecret(s)` wraps it in
  the same code shapes gitleaks does).
- noseyparker `crates/noseyparker/data/default/builtin/rules/*.yml`: each
  rule's `examples` (positives when the rule's `categories` include
  `secret`; identifier-only rules such as AWS account ids or bucket names
  are not secrets) and `negative_examples` (negatives).
- trufflehog `pkg/detectors/*/*_test.go` (optional): the `input` of each
  pattern test case, positive when it `want`s a result; kind
  `secret (trufflehog)`, scored apart from the rest.
- Presidio `presidio-analyzer/tests/test_*_recognizer.py`: the `text` of each
  `pytest.mark.parametrize` case of the recognisers for the PII types the
  sensor claims (card, email, IBAN, phone, US SSN); a case expecting at
  least one result is a positive, zero results a negative.

Exclusion rules (each reported as a count, never a per-sample choice):
- a Go expression this evaluator cannot evaluate (loops, helper functions
  of the rule file; a trufflehog case whose `input` or `want` is not a
  string expression) is skipped;
- empty or whitespace-only samples are skipped (not secrets in any sense);
- a sample appearing as both positive and negative of one type is skipped;
- noseyparker: an example or negative example the YAML marks with a
  `FIXME` comment (the maintainers say its label is wrong), and a negative
  example that some noseyparker rule's own pattern matches (a negative of
  one pattern can be another's secret) are skipped;
- trufflehog: a negative case whose input holds a value that a positive
  case of the same detector `want`s (the whole value, or a part of a
  composite `want` such as `host:id:secret` that is not a host name or
  URL) is skipped: the suite itself calls that value a secret, and the
  case is negative only because the detector wants a companion id or its
  keyword within a window (`valid pattern - key out of prefix range`,
  `only skey`);
- duplicates within one type and label are kept once.

Usage: extract.py GITLEAKS_GIT_DIR PRESIDIO_GIT_DIR NOSEYPARKER_GIT_DIR [TRUFFLEHOG_GIT_DIR] > cases.jsonl
Writes one JSON object per line: source, kind (secret|pii), type, label
(pos|neg), sample, field (a telling field name for the type). Exclusion
counts go to stderr as one JSON object.
"""

import ast
import json
import yaml
import random
import re
import subprocess
import sys

try:
    import re._parser as sre_parse  # Python 3.11+
    import re._constants as sre_c
except ImportError:  # pragma: no cover
    import sre_parse
    import sre_constants as sre_c


class Unevaluable(Exception):
    pass


def git_ls(git_dir, path):
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "ls-tree", "--name-only", "HEAD", path + "/"],
        check=True, capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l]


def git_show(git_dir, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", "HEAD:" + path],
                          check=True, capture_output=True, text=True).stdout


# --- regex sampler (what gitleaks' secrets.NewSecret does, seeded) ----------

RNG = random.Random(11)
PRINTABLE = [chr(c) for c in range(0x21, 0x7f)]
CATEGORIES = {
    sre_c.CATEGORY_DIGIT: "0123456789",
    sre_c.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_DIGIT: "abcdefghijklmnopqrstuvwxyz",
    sre_c.CATEGORY_NOT_WORD: "-.,;",
    sre_c.CATEGORY_NOT_SPACE: "abcdefghijklmnopqrstuvwxyz0123456789",
}


def charset(items):
    chars, negate = set(), False
    for op, av in items:
        if op == sre_c.NEGATE:
            negate = True
        elif op == sre_c.LITERAL:
            chars.add(chr(av))
        elif op == sre_c.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op == sre_c.CATEGORY:
            chars.update(CATEGORIES[av])
        else:
            raise Unevaluable(f"regex class item {op}")
    if negate:
        chars = set(PRINTABLE) - chars
    return sorted(chars)


def generate(parsed):
    out = []
    for op, av in parsed:
        if op == sre_c.LITERAL:
            out.append(chr(av))
        elif op == sre_c.NOT_LITERAL:
            out.append(RNG.choice([c for c in PRINTABLE if c != chr(av)]))
        elif op == sre_c.ANY:
            out.append(RNG.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif op == sre_c.IN:
            out.append(RNG.choice(charset(av)))
        elif op == sre_c.BRANCH:
            out.append(generate(RNG.choice(av[1])))
        elif op == sre_c.SUBPATTERN:
            out.append(generate(av[-1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            # Like reggen with limit 1: an open repetition adds at most one.
            if hi == sre_c.MAXREPEAT:
                hi = lo + 1
            out.extend(generate(sub) for _ in range(RNG.randint(lo, hi)))
        elif op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
            pass
        elif op == sre_c.CATEGORY:
            out.append(RNG.choice(CATEGORIES[av]))
        else:
            raise Unevaluable(f"regex op {op}")
    return "".join(out)


def new_secret(pattern):
    try:
        return generate(sre_parse.parse(pattern))
    except (re.error, KeyError, IndexError, ValueError) as e:
        raise Unevaluable(f"regex {pattern!r}: {e}")


# --- gitleaks' sample wrappers (cmd/generate/config/utils/generate.go) -------

SAMPLE_SHAPES = [
    '{i}Token="{s}"', '{i}Token = "{s}"', '{i}Token={s}', '{i}Token = {s}',
    '{\n    "{i}_token": "{s}"\n}', '{"config.ini": "{I}_TOKEN={s}\\nBACKUP_ENABLED=true"}',
    '<{i}Token>\n    {s}\n</{i}Token>', '{i}_token: {s}', "{i}_token: '{s}'",
    '{i}_token: "{s}"', 'string {i}Token = "{s}";', 'var {i}Token string = "{s}"',
    '{i}Token := "{s}"', '{i}Token := `{s}`', 'String {i}Token = "{s}";',
    'var {i}Token = "{s}"', '${i}Token .= "{s}"', "{i}Token = '{s}'",
    '{i}Token = "{s}"', 'System.setProperty("{I}_TOKEN", "{s}")', '  "{i}Token" => "{s}"',
    '{i}_TOKEN = "{s}"', '{i}_TOKEN := "{s}"', '{i}_TOKEN ::= "{s}"',
    '{i}_TOKEN :::= "{s}"', '{i}_TOKEN ?= "{s}"',
]


def sample_secrets(identifier, secret):
    return [s.replace("{i}", identifier).replace("{I}", identifier.upper()).replace("{s}", secret)
            for s in SAMPLE_SHAPES]


# --- a small Go expression evaluator ------------------------------------------

TOKEN = re.compile(r"""
    (?P<raw>`[^`]*`)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<rune>'(?:[^'\\\n]|\\.)+')
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<num>[0-9]+)
  | (?P<op>\.\.\.|:=|[-+*/%(){}\[\],;:=!<>&|.])
  | (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
""", re.X | re.S)


def go_string(tok):
    if tok.startswith("`"):
        return tok[1:-1].replace("\r", "")
    body = tok[1:-1]
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return ast.literal_eval('"' + body + '"')


def tokenize(src):
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            toks.append(("op", src[pos]))
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            continue
        toks.append((kind, m.group()))
    return toks


def statements(toks):
    """Splits a token list at newlines and `;` outside brackets."""
    out, cur, depth = [], [], 0
    for kind, text in toks:
        if kind == "op" and text in "([{":
            depth += 1
        elif kind == "op" and text in ")]}":
            depth -= 1
        if depth == 0 and (kind == "nl" or (kind == "op" and text == ";")):
            if cur:
                out.append(cur)
            cur = []
            continue
        if kind != "nl":
            cur.append((kind, text))
    if cur:
        out.append(cur)
    return out


class Evaluator:
    def __init__(self, toks, env):
        self.toks, self.i, self.env = toks, 0, env

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, text=None):
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise Unevaluable(f"expected {text!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def expr(self):
        value = self.term()
        while self.peek()[1] == "+":
            self.take()
            right = self.term()
            if not (isinstance(value, str) and isinstance(right, str)):
                raise Unevaluable("+ on non-strings")
            value += right
        return value

    def args(self):
        self.take("(")
        out = []
        while self.peek()[1] != ")":
            out.append(self.expr())
            if self.peek()[1] == "...":
                self.take()
                out[-1] = ("spread", out[-1])
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return out

    def composite(self):
        """`{ e, e, }` or `{ k: v, }`: the values."""
        self.take("{")
        out = []
        while self.peek()[1] != "}":
            v = self.expr()
            if self.peek()[1] == ":":
                self.take()
                v = self.expr()
            out.append(v)
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return out

    def term(self):
        kind, text = self.take()
        if kind in ("str", "raw"):
            return go_string(text)
        if kind == "num":
            return int(text)
        if text == "[":
            self.take("]")
            self.take("string")
            return [strs(v) for v in self.composite()]
        if text == "map":
            self.take("[")
            self.take("string")
            self.take("]")
            self.take("string")
            return [strs(v) for v in self.composite()]
        if kind == "ident":
            if self.peek()[1] == "(":
                return call(text, self.args())
            if text in self.env:
                return self.env[text]
            if text == "nil":
                return []
        raise Unevaluable(f"term {text!r}")


def split_args(toks):
    """The argument token lists of `( a, b, c )`."""
    out, cur, depth = [], [], 0
    for tok in toks:
        if tok[1] in "([{":
            depth += 1
            if depth == 1:
                continue
        elif tok[1] in ")]}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and tok[1] == ",":
            out.append(cur)
            cur = []
        else:
            cur.append(tok)
    if cur:
        out.append(cur)
    return out


def strs(v):
    if not isinstance(v, str):
        raise Unevaluable("list item not a string")
    return v


def call(name, args):
    def size(a):
        return str(a)

    if name == "secrets.NewSecret":
        return new_secret(strs(args[0]))
    classes = {
        "utils.Numeric": "[0-9]{%s}", "utils.Hex": "[a-f0-9]{%s}",
        "utils.AlphaNumeric": "[a-z0-9]{%s}", "utils.AlphaNumericExtendedShort": "[a-z0-9_-]{%s}",
        "utils.AlphaNumericExtended": "[a-z0-9=_\\-]{%s}",
        "utils.AlphaNumericExtendedLong": "[a-z0-9\\/=_\\+\\-]{%s}",
    }
    if name in classes:
        return classes[name] % size(args[0])
    if name == "utils.Hex8_4_4_4_12":
        return "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    if name == "utils.GenerateSampleSecret":
        return '%s_api_token = "%s"' % (strs(args[0]), strs(args[1]))
    if name == "utils.GenerateSampleSecrets":
        return sample_secrets(strs(args[0]), strs(args[1]))
    if name == "append":
        base = list(args[0])
        for a in args[1:]:
            if isinstance(a, tuple):
                base.extend(a[1])
            else:
                base.append(strs(a))
        return base
    if name == "fmt.Sprintf":
        fmt, rest = strs(args[0]), list(args[1:])
        def sub(m):
            if m.group() == "%%":
                return "%"
            if not rest:
                raise Unevaluable("Sprintf arguments")
            return str(rest.pop(0))
        return re.sub(r"%[-+# 0-9.]*[sdvqx%]", sub, fmt)
    if name == "strings.Repeat":
        return strs(args[0]) * int(args[1])
    if name in ("strings.ToUpper", "strings.ToLower"):
        return strs(args[0]).upper() if name.endswith("Upper") else strs(args[0]).lower()
    raise Unevaluable(f"call {name}")


FUNC = re.compile(r"^func (\w+)\(\) \*config\.Rule \{$", re.M)


def gitleaks(git_dir, stats):
    cases = []
    base = "cmd/generate/config/rules"
    for name in git_ls(git_dir, base):
        if not name.endswith(".go") or name.endswith("_test.go"):
            continue
        src = git_show(git_dir, name)
        starts = [m for m in FUNC.finditer(src)]
        for k, m in enumerate(starts):
            body = src[m.end(): starts[k + 1].start() if k + 1 < len(starts) else len(src)]
            rid = re.search(r'RuleID:\s*"([^"]+)"', body)
            if not rid:
                continue
            rule_id = rid.group(1)
            env = {}
            for st in statements(tokenize(body)):
                texts = [t for _, t in st]
                if len(texts) >= 3 and texts[1] in (":=", "=") and texts[0] in ("tps", "fps") or (
                        texts[:1] == ["var"] and len(texts) > 3 and texts[1] in ("tps", "fps")):
                    target = texts[1] if texts[0] == "var" else texts[0]
                    eq = texts.index("=") if texts[0] == "var" else 1
                    try:
                        env[target] = Evaluator(st[eq + 1:], env).expr()
                    except (Unevaluable, IndexError) as e:
                        stats["gitleaks_unevaluable_statements"] += 1
                        stats.setdefault("unevaluable_rules", set()).add(rule_id)
                        env.setdefault(target, [])
                    continue
                if "utils.Validate" in texts or "utils.ValidateWithPaths" in texts:
                    j = texts.index("utils.Validate" if "utils.Validate" in texts else "utils.ValidateWithPaths")
                    try:
                        args = [Evaluator(a, env).expr() if i else None
                                for i, a in enumerate(split_args(st[j + 1:]))]
                    except (Unevaluable, IndexError):
                        stats["gitleaks_unevaluable_statements"] += 1
                        stats.setdefault("unevaluable_rules", set()).add(rule_id)
                        continue
                    field = rule_id.replace("-", "_")
                    for label, values in (("pos", args[1]), ("neg", args[2] if len(args) > 2 else [])):
                        for v in values or []:
                            cases.append(dict(source="gitleaks", kind="secret", type=rule_id,
                                              label=label, sample=v, field=field))
    return cases


# --- noseyparker -----------------------------------------------------------------

NP_RULES = "crates/noseyparker/data/default/builtin/rules"


def np_pattern(pattern):
    """A noseyparker (Rust regex) pattern in Python's dialect: a flag group
    inside the pattern (`(?: (?s) ...)`) becomes a scoped flag group."""
    return re.compile(re.sub(r"\(\?:\s*\(\?([a-z]+)\)", r"(?\1:", pattern))


def np_fixmes(text):
    """(rule id, list key, item or None for the whole list) that a FIXME
    comment in the raw YAML marks."""
    lines = text.splitlines()
    marked, rule, key = [], None, None
    for n, line in enumerate(lines):
        m = re.match(r"^\s*(?:- )?id:\s*(\S+)", line)
        if m:
            rule = m.group(1)
        m = re.match(r"^  (\w+):", line)
        if m:
            key = m.group(1)
        if not re.match(r"^\s*#.*FIXME", line):
            continue
        nxt = next((k for k in range(n + 1, len(lines))
                    if lines[k].strip() and not lines[k].lstrip().startswith("#")), None)
        if nxt is None:
            continue
        m = re.match(r"^  (examples|negative_examples):\s*$", lines[nxt])
        if m:
            marked.append((rule, m.group(1), None))
        elif key in ("examples", "negative_examples") and lines[nxt].lstrip().startswith("- "):
            indent = len(lines[nxt]) - len(lines[nxt].lstrip())
            end = nxt + 1
            while end < len(lines) and (not lines[end].strip()
                                        or len(lines[end]) - len(lines[end].lstrip()) > indent):
                end += 1
            item = "\n".join(l[indent:] for l in lines[nxt:end])
            marked.append((rule, key, yaml.safe_load(item)[0]))
    return marked


def noseyparker(git_dir, stats):
    rules, fixmes = [], []
    for name in git_ls(git_dir, NP_RULES):
        if name.endswith(".yml"):
            text = git_show(git_dir, name)
            rules.extend(yaml.safe_load(text)["rules"])
            fixmes.extend(np_fixmes(text))
    patterns = [np_pattern(r["pattern"]) for r in rules]
    cases = []
    for r in rules:
        field = re.sub(r"[^a-z0-9]+", "_", r["name"].lower()).strip("_")
        secret = "secret" in (r.get("categories") or [])
        for key, label in (("examples", "pos"), ("negative_examples", "neg")):
            for sample in r.get(key) or []:
                if (r["id"], key, None) in fixmes or (r["id"], key, sample) in fixmes:
                    stats["noseyparker_fixme"] += 1
                    continue
                if label == "pos" and not secret:
                    stats["noseyparker_not_secret_rule"] += 1
                    continue
                if label == "neg" and any(p.search(sample) for p in patterns):
                    stats["noseyparker_negative_another_rule_matches"] += 1
                    continue
                cases.append(dict(source="noseyparker", kind="secret", type=r["id"],
                                  label=label, sample=sample, field=field))
    return cases


# --- trufflehog ------------------------------------------------------------------

TH_DETECTORS = "pkg/detectors"
GO_VAR = re.compile(r"^[ \t]*(?:var[ \t]+|const[ \t]+)?(\w+)[ \t]*(?:string[ \t]*)?=[ \t]*(?=\S)", re.M)


def go_expr(src, env):
    toks = [t for t in tokenize(src) if t[0] != "nl"]
    return Evaluator(toks, env).expr()


def wanted_parts(wanted):
    """The values a trufflehog test `want`s, and the credential-looking
    parts of composite ones (`host:id:secret`, `key|secret`): each is a
    value the suite itself calls a secret. Host names and URLs are not
    (`api-123456.duosecurity.com`)."""
    out = set()
    for w in wanted:
        out.add(w)
        for part in re.split(r"[:|;,\s]", w):
            host = re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", part)
            if len(part) >= 10 and not host and "/" not in part:
                out.add(part)
    return out


def trufflehog(git_dir, stats):
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", "HEAD",
                          TH_DETECTORS + "/"], check=True, capture_output=True, text=True).stdout
    cases = []
    for name in out.splitlines():
        if not name.endswith("_test.go") or name.endswith("_integration_test.go"):
            continue
        src = git_show(git_dir, name)
        detector = name.split("/")[2]
        # Package-level strings (`validPattern`, `keyword`...), in order.
        head = src.split("\nfunc ", 1)[0]
        env = {}
        for m in GO_VAR.finditer(head):
            try:
                value = go_expr(head[m.end():], env)
            except (Unevaluable, IndexError):
                continue
            if isinstance(value, str):
                env[m.group(1)] = value
        inputs = list(re.finditer(r"\binput:\s*", src))
        for k, m in enumerate(inputs):
            stop = inputs[k + 1].start() if k + 1 < len(inputs) else len(src)
            want = re.compile(r"\bwant:\s*").search(src, m.end(), stop)
            try:
                sample = go_expr(src[m.end():stop], env)
                wanted = go_expr(src[want.end():stop], env) if want else None
            except (Unevaluable, IndexError, AttributeError):
                stats["trufflehog_unevaluable_cases"] += 1
                continue
            if not isinstance(sample, str) or not isinstance(wanted, list):
                stats["trufflehog_unevaluable_cases"] += 1
                continue
            cases.append(dict(source="trufflehog", kind="secret (trufflehog)", type="th." + detector,
                              label="pos" if wanted else "neg", sample=sample,
                              field=detector + "_key", wanted=wanted))
    # A negative that holds a value a positive of the same detector wants
    # is negative only for that detector's design (its companion id
    # missing, its keyword out of range): the text holds a secret by the
    # suite's own word.
    secrets = {}
    for c in cases:
        secrets.setdefault(c["type"], set()).update(wanted_parts(c.pop("wanted")))
    kept = []
    for c in cases:
        if c["label"] == "neg" and any(v in c["sample"] for v in secrets[c["type"]]):
            stats["trufflehog_negative_holds_a_wanted_secret"] += 1
        else:
            kept.append(c)
    return kept


# --- Presidio ------------------------------------------------------------------

PRESIDIO = {
    "test_credit_card_recognizer.py": ("CREDIT_CARD", "card_number"),
    "test_email_recognizer.py": ("EMAIL_ADDRESS", "email"),
    "test_iban_recognizer.py": ("IBAN_CODE", "iban"),
    "test_phone_recognizer.py": ("PHONE_NUMBER", "phone"),
    "test_us_ssn_recognizer.py": ("US_SSN", "ssn"),
}


def presidio(git_dir, stats):
    cases = []
    base = "presidio-analyzer/tests"
    for name, (entity, field) in PRESIDIO.items():
        tree = ast.parse(git_show(git_dir, f"{base}/{name}"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef,)):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
                text_i = next((i for i, n in enumerate(names) if n in ("text", "iban")), None)
                len_i = names.index("expected_len") if "expected_len" in names else None
                if text_i is None or len_i is None:
                    continue
                for row in dec.args[1].elts:
                    try:
                        values = ast.literal_eval(row)
                    except ValueError:
                        stats["presidio_unevaluable_rows"] += 1
                        continue
                    text = values[text_i]
                    label = "pos" if values[len_i] > 0 else "neg"
                    cases.append(dict(source="presidio", kind="pii", type=entity,
                                      label=label, sample=text, field=field))
    return cases


def main():
    gl_dir, pr_dir, np_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    th_dir = sys.argv[4] if len(sys.argv) > 4 else None
    stats = {"gitleaks_unevaluable_statements": 0, "presidio_unevaluable_rows": 0,
             "noseyparker_fixme": 0, "noseyparker_not_secret_rule": 0,
             "noseyparker_negative_another_rule_matches": 0, "trufflehog_unevaluable_cases": 0,
             "trufflehog_negative_holds_a_wanted_secret": 0, "empty_samples": 0, "duplicates": 0,
             "both_positive_and_negative": 0}
    raw = gitleaks(gl_dir, stats) + presidio(pr_dir, stats) + noseyparker(np_dir, stats)
    if th_dir:
        raw += trufflehog(th_dir, stats)
    seen, labels = set(), {}
    for c in raw:
        labels.setdefault((c["type"], c["sample"]), set()).add(c["label"])
    for c in raw:
        key = (c["type"], c["label"], c["sample"])
        if not c["sample"].strip():
            stats["empty_samples"] += 1
        elif len(labels[(c["type"], c["sample"])]) > 1:
            stats["both_positive_and_negative"] += 1
        elif key in seen:
            stats["duplicates"] += 1
        else:
            seen.add(key)
            print(json.dumps(c))
    stats["unevaluable_rules"] = sorted(stats.get("unevaluable_rules", ()))
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
