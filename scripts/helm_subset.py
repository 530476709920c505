"""A renderer of the subset of Go templates the charts under deploy/helm/
use, for machines without helm (scripts/check-deploy.py).

Supported: text with {{- / -}} trimming; {{/* comments */}}; define / end;
if / else / end (nested); the fields .Values.*, .Release.Name,
.Release.Namespace, .Chart.Name, .Chart.Version, .Chart.AppVersion;
string literals; `include "NAME" .`; `toYaml X`; `not X`; and the pipeline
functions quote, nindent N, indent N, toYaml. Anything else (range, with,
template, other functions, a missing value) raises TemplateError instead of
being rendered approximately. Values print as Go's text/template prints
what helm gives it (numbers through float64: 1.0 prints as 1).
"""

import copy
import json
import re

import yaml


class TemplateError(Exception):
    pass


TOKEN = re.compile(r"\{\{(-?)(\s*)(.*?)(\s*)(-?)\}\}", re.S)


def tokenize(text):
    """Text and action tokens, with {{- and -}} whitespace trimming."""
    out, pos = [], 0
    for m in TOKEN.finditer(text):
        out.append(["text", text[pos:m.start()]])
        left, body, right = m.group(1) == "-", m.group(3), m.group(5) == "-"
        if left and out[-1][0] == "text":
            out[-1][1] = out[-1][1].rstrip(" \t\r\n")
        out.append(["action", body.strip(), right])
        pos = m.end()
    out.append(["text", text[pos:]])
    result = []
    trim_next = False
    for tok in out:
        if tok[0] == "text":
            s = tok[1].lstrip(" \t\r\n") if trim_next else tok[1]
            result.append(("text", s))
            trim_next = False
        else:
            result.append(("action", tok[1]))
            trim_next = tok[2]
    return result


def parse_all(tokens):
    """Top level: like parse() but ends at the end of the tokens."""
    nodes, i = [], 0
    while i < len(tokens):
        kind, s = tokens[i]
        if kind == "action" and s and s.split(None, 1)[0] in ("end", "else"):
            raise TemplateError(f"'{{{{ {s} }}}}' without an opening if/define")
        if kind == "action" and s and s.split(None, 1)[0] in ("if", "define"):
            sub, i = parse_block(tokens, i)
            nodes.append(sub)
            continue
        if kind == "text":
            nodes.append(("text", s))
        elif not s.startswith("/*"):
            if s.split(None, 1)[0] in ("range", "with", "template", "block"):
                raise TemplateError(f"unsupported construct '{{{{ {s} }}}}' (scripts/check-deploy.py renders a subset)")
            nodes.append(("expr", s))
        i += 1
    return nodes, i, ""


def parse_block(tokens, i):
    """An if or define block starting at tokens[i]; returns (node, next i)."""
    s = tokens[i][1]
    word = s.split(None, 1)[0]
    i += 1
    branches, current = [], []
    while i < len(tokens):
        kind, t = tokens[i]
        w = t.split(None, 1)[0] if kind == "action" and t else ""
        if kind == "action" and w in ("if", "define"):
            sub, i = parse_block(tokens, i)
            current.append(sub)
            continue
        i += 1
        if kind == "text":
            current.append(("text", t))
        elif t.startswith("/*"):
            continue
        elif w == "else":
            if t != "else" or word != "if":
                raise TemplateError(f"unsupported '{{{{ {t} }}}}' (only a plain else inside if)")
            branches.append(current)
            current = []
        elif w == "end":
            branches.append(current)
            if word == "define":
                m = re.fullmatch(r'define\s+"([^"]+)"', s)
                if not m:
                    raise TemplateError(f"cannot read '{{{{ {s} }}}}'")
                return ("define", m.group(1), branches[0]), i
            return ("if", s[2:].strip(), branches[0], branches[1] if len(branches) > 1 else []), i
        elif w in ("range", "with", "template", "block"):
            raise TemplateError(f"unsupported construct '{{{{ {t} }}}}' (scripts/check-deploy.py renders a subset)")
        else:
            current.append(("expr", t))
    raise TemplateError(f"'{{{{ {s} }}}}' has no {{{{ end }}}}")


def go_string(v):
    """A value as Go's text/template prints it (Helm passes numbers as float64)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e21:
            return str(int(f))
        return repr(f)
    if v is None:
        raise TemplateError("a value is missing (nil would render as '<no value>')")
    if isinstance(v, (dict, list)):
        raise TemplateError("a map or list printed without toYaml")
    return str(v)


def split_words(s):
    return re.findall(r'"(?:[^"\\]|\\.)*"|\S+', s)


class Renderer:
    def __init__(self, ctx, defines):
        self.ctx = ctx
        self.defines = defines

    def lookup(self, ref):
        parts = ref.split(".")[1:]
        value = self.ctx
        for p in parts:
            if not isinstance(value, dict) or p not in value:
                raise TemplateError(f"{ref}: not set")
            value = value[p]
        return value

    def term(self, words):
        if not words:
            raise TemplateError("empty expression")
        head = words[0]
        if head == "include":
            if len(words) != 3 or words[2] != ".":
                raise TemplateError(f"include must be 'include \"NAME\" .' (is {' '.join(words)})")
            name = json.loads(words[1])
            if name not in self.defines:
                raise TemplateError(f"include of undefined template {name}")
            return self.render(self.defines[name])
        if head == "toYaml":
            return to_yaml(self.term(words[1:]))
        if head == "not":
            return not truthy(self.term(words[1:]))
        if len(words) != 1:
            raise TemplateError(f"unsupported expression '{' '.join(words)}'")
        if head.startswith('"'):
            return json.loads(head)
        if re.fullmatch(r"\.(Values|Release|Chart)(\.[A-Za-z_][A-Za-z0-9_]*)+", head):
            return self.lookup(head)
        raise TemplateError(f"unsupported expression '{head}'")

    def pipeline(self, s):
        stages = [split_words(p) for p in re.split(r'\|(?=(?:[^"]*"[^"]*")*[^"]*$)', s)]
        value = self.term(stages[0])
        for words in stages[1:]:
            fn, args = words[0], words[1:]
            if fn == "quote" and not args:
                value = json.dumps(go_string(value))
            elif fn in ("nindent", "indent") and len(args) == 1 and args[0].isdigit():
                pad = " " * int(args[0])
                text = "\n".join(pad + line for line in go_string(value).split("\n"))
                value = ("\n" if fn == "nindent" else "") + text
            elif fn == "toYaml" and not args:
                value = to_yaml(value)
            else:
                raise TemplateError(f"unsupported function '{' '.join(words)}'")
        return value

    def render(self, nodes):
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "expr":
                out.append(go_string(self.pipeline(node[1])))
            elif node[0] == "if":
                branch = node[2] if truthy(self.pipeline(node[1])) else node[3]
                out.append(self.render(branch))
            elif node[0] == "define":
                pass
        return "".join(out)


def truthy(v):
    return not (v is None or v is False or v == 0 or v == "" or v == {} or v == [])


def to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n").removesuffix("\n...")


def merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def render(chart_dir, chart, values, release, namespace):
    """{template file name: rendered text} of every template but _*.tpl;
    chart is the parsed Chart.yaml."""
    ctx = {"Values": values, "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
           "Chart": {"Name": chart.get("name"), "Version": chart.get("version"), "AppVersion": chart.get("appVersion")}}
    parsed, defines = {}, {}
    for t in sorted((chart_dir / "templates").iterdir()):
        nodes = parse_all(tokenize(t.read_text(encoding="utf-8")))[0]
        parsed[t.name] = nodes
        for n in nodes:
            if n[0] == "define":
                defines[n[1]] = n[2]
    r = Renderer(ctx, defines)
    out = {}
    for name, nodes in parsed.items():
        if name.startswith("_"):
            continue
        out[name] = r.render(nodes)
    return out


def self_test():
    """Go text/template behaviour the charts rely on; raises AssertionError
    if this renderer drifts from it."""
    def run(text, values):
        r = Renderer({"Values": values, "Release": {"Name": "r"}, "Chart": {}}, {})
        return r.render(parse_all(tokenize(text))[0])

    trim = "a\n{{- if .Values.x }}\nb\n{{- end }}\nc"
    assert run(trim, {"x": True}) == "a\nb\nc", run(trim, {"x": True})
    assert run(trim, {"x": ""}) == "a\nc"
    assert run("{{ if not .Values.x }}y{{ else }}n{{ end }}", {"x": []}) == "y"
    assert run("k:\n  {{- toYaml .Values.m | nindent 2 }}", {"m": {"b": 1, "a": "2"}}) == "k:\n  a: '2'\n  b: 1"
    assert run("{{ .Values.s | quote }} {{ .Release.Name }}", {"s": "x y"}) == '"x y" r'
    assert run("{{/* gone */}}{{ .Values.f }} {{ .Values.t }} {{ .Values.g }}", {"f": 1.0, "t": True, "g": 0.05}) == "1 true 0.05"
    assert run("{{ .Values.n -}}\n  x", {"n": 3}) == "3x"
