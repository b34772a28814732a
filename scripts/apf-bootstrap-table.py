#!/usr/bin/env python3
"""Derives the table of APF bootstrap objects per Kubernetes version from kube-apiserver's source.

Reads `pkg/apis/flowcontrol/bootstrap/default.go` at each tag `kubernetes-1.MINOR.0` of a
kubernetes/apiserver clone, evaluates the object literals with a small Go expression reader, and
prints one canonical line per object (the format `crates/apf/tests/defaults.rs` compares against
`ApfConfig::defaults`). Usage:

    scripts/apf-bootstrap-table.py /path/to/kubernetes/apiserver.git > crates/apf/tests/data/bootstrap-defaults.txt
"""
import re
import subprocess
import sys

CONSTS = {
    "flowcontrol.VerbAll": "*", "flowcontrol.APIGroupAll": "*", "flowcontrol.ResourceAll": "*",
    "flowcontrol.NamespaceEvery": "*", "flowcontrol.NonResourceAll": "*", "flowcontrol.NameAll": "*",
    "user.SystemPrivilegedGroup": "system:masters", "user.AllUnauthenticated": "system:unauthenticated",
    "user.AllAuthenticated": "system:authenticated", "user.NodesGroup": "system:nodes",
    "user.KubeControllerManager": "system:kube-controller-manager",
    "user.KubeScheduler": "system:kube-scheduler",
    "serviceaccount.AllServiceAccountsGroup": "system:serviceaccounts",
    "coordinationv1.GroupName": "coordination.k8s.io", "corev1.GroupName": "",
    "metav1.NamespaceSystem": "kube-system",
    "flowcontrol.PriorityLevelConfigurationNameExempt": "exempt",
    "flowcontrol.PriorityLevelConfigurationNameCatchAll": "catch-all",
    "flowcontrol.FlowSchemaNameExempt": "exempt", "flowcontrol.FlowSchemaNameCatchAll": "catch-all",
    "flowcontrol.FlowDistinguisherMethodByUserType": "ByUser",
    "flowcontrol.FlowDistinguisherMethodByNamespaceType": "ByNamespace",
    "flowcontrol.LimitResponseTypeReject": "Reject", "flowcontrol.LimitResponseTypeQueue": "Queue",
    "flowcontrol.PriorityLevelEnablementExempt": "Exempt",
    "flowcontrol.PriorityLevelEnablementLimited": "Limited",
}

TOKEN = re.compile(r'\s*(?:(//[^\n]*)|("(?:[^"\\]|\\.)*")|(\.\.\.)|([A-Za-z_][A-Za-z0-9_.]*)|(-?\d+)|(.))', re.S)


def tokens(text):
    out = []
    for m in TOKEN.finditer(text):
        comment, string, dots, ident, num, punct = m.groups()
        if comment:
            continue
        if string is not None:
            out.append(("str", string[1:-1]))
        elif dots:
            out.append(("p", "..."))
        elif ident:
            out.append(("id", ident))
        elif num:
            out.append(("num", int(num)))
        elif punct and punct.strip():
            out.append(("p", punct))
    return out


class Reader:
    def __init__(self, toks, funcs, variables):
        self.t, self.i, self.funcs, self.vars = toks, 0, funcs, variables

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else ("eof", None)

    def take(self, value=None):
        tok = self.t[self.i]
        if value is not None and tok[1] != value:
            raise ValueError(f"expected {value}, got {tok}")
        self.i += 1
        return tok

    def expr(self):
        kind, v = self.peek()
        if kind == "str":
            self.take()
            return v
        if kind == "num":
            self.take()
            return v
        if v == "&":
            self.take()
            return self.expr()
        if v == "[":  # []T{...}
            self.take("[")
            self.take("]")
            self.type_name()
            return self.composite_list()
        if kind == "id":
            name = self.take()[1]
            if self.peek()[1] == "{":
                return self.composite(name)
            if self.peek()[1] == "(":
                args = self.call_args()
                return self.call(name, args)
            if name in CONSTS:
                return CONSTS[name]
            if name in ("true", "false"):
                return name == "true"
            if name in self.vars:
                return self.vars[name]
            raise ValueError(f"unknown identifier {name}")
        raise ValueError(f"unexpected {kind} {v}")

    def type_name(self):
        if self.peek()[1] == "*":
            self.take()
        self.take()

    def composite_list(self):
        self.take("{")
        items = []
        while self.peek()[1] != "}":
            items.append(self.expr())
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return items

    def composite(self, type_name):
        self.take("{")
        fields = {}
        items = []
        while self.peek()[1] != "}":
            if self.peek()[0] == "id" and self.t[self.i + 1][1] == ":":
                key = self.take()[1]
                self.take(":")
                fields[key] = self.expr()
            else:
                items.append(self.expr())
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return items if items and not fields else fields

    def call_args(self):
        self.take("(")
        args = []
        while self.peek()[1] != ")":
            a = self.expr()
            if self.peek()[1] == "...":
                self.take()
                a = ("spread", a)
            args.append(a)
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return args

    def call(self, name, args):
        if name in ("ptr.To", "pointer.Int32", "int32"):
            return args[0]
        if name == "append":
            out = list(args[0])
            for a in args[1:]:
                out.extend(a[1] if isinstance(a, tuple) else [a])
            return out
        if name in self.funcs:
            return self.funcs[name](*args)
        raise ValueError(f"unknown function {name}")


def subjects(kind):
    def make(*names):
        if kind == "sa":
            return [f"ServiceAccount:kube-system/{n}" for n in names]
        return [f"{kind}:{n}" for n in names]
    return make


FUNCS = {
    "groups": subjects("Group"),
    "users": subjects("User"),
    "kubeSystemServiceAccount": subjects("sa"),
    "resourceRule": lambda verbs, groups, resources, namespaces, cluster: {
        "kind": "resource", "verbs": verbs, "groups": groups, "resources": resources,
        "namespaces": namespaces, "cluster": cluster},
    "nonResourceRule": lambda verbs, urls: {"kind": "nonresource", "verbs": verbs, "urls": urls},
    "newFlowSchema": lambda name, pl, prec, dist, *rules: {
        "obj": "FS", "name": name, "pl": pl, "prec": prec, "dist": dist or "-", "rules": rules},
    "newPriorityLevelConfiguration": lambda name, spec: {"obj": "PL", "name": name, "spec": spec},
}


def render_rule(rule):
    parts = ["subjects=" + ",".join(rule.get("Subjects", []))]
    for rr in rule.get("ResourceRules", []):
        parts.append("resource(verbs=%s groups=%s resources=%s namespaces=%s cluster=%s)" % (
            ",".join(rr["verbs"]), ",".join(g if g else '""' for g in rr["groups"]),
            ",".join(rr["resources"]), ",".join(rr["namespaces"]), str(rr["cluster"]).lower()))
    for nr in rule.get("NonResourceRules", []):
        parts.append("nonresource(verbs=%s urls=%s)" % (",".join(nr["verbs"]), ",".join(nr["urls"])))
    return " ".join(parts)


def render(minor, obj):
    if obj["obj"] == "FS":
        rules = " | ".join(render_rule(r) for r in obj["rules"])
        return f"1.{minor} FS {obj['name']} precedence={obj['prec']} level={obj['pl']} distinguisher={obj['dist']} rules: {rules}"
    spec = obj["spec"]
    if spec["Type"] == "Exempt":
        ex = spec.get("Exempt") or {}
        return f"1.{minor} PL {obj['name']} Exempt shares={ex.get('NominalConcurrencyShares', 0)} lendable={ex.get('LendablePercent', 0)}"
    lim = spec["Limited"]
    shares = lim.get("NominalConcurrencyShares", lim.get("AssuredConcurrencyShares"))
    lendable = lim.get("LendablePercent", 0)
    resp = lim["LimitResponse"]
    if resp["Type"] == "Reject":
        response = "Reject"
    else:
        q = resp["Queuing"]
        response = f"Queue queues={q['Queues']} handSize={q['HandSize']} queueLengthLimit={q['QueueLengthLimit']}"
    return f"1.{minor} PL {obj['name']} Limited shares={shares} lendable={lendable} {response}"


def extract(text):
    body = re.sub(r"\nfunc .*", "", text, flags=re.S)  # the helpers come after the objects
    toks = tokens(body)
    variables = {}
    lists = {}
    i = 0
    while i < len(toks):
        kind, v = toks[i]
        if kind == "id" and i + 1 < len(toks) and toks[i + 1][1] == "=" and (i == 0 or toks[i - 1][1] != ":"):
            r = Reader(toks, FUNCS, variables)
            r.i = i + 2
            if toks[i + 2][1] == "[":
                r.take("[")
                r.take("]")
                r.type_name()
                names = []
                r.take("{")
                while r.peek()[1] != "}":
                    names.append(r.take()[1])
                    if r.peek()[1] == ",":
                        r.take()
                r.take("}")
                lists[v] = names
            else:
                variables[v] = r.expr()
            i = r.i
            continue
        i += 1
    out = []
    for list_name in ("MandatoryPriorityLevelConfigurations", "SuggestedPriorityLevelConfigurations",
                      "MandatoryFlowSchemas", "SuggestedFlowSchemas"):
        for name in lists[list_name]:
            out.append(variables[name])
    return out


def main():
    repo = sys.argv[1]
    print("# APF bootstrap objects per version, derived from pkg/apis/flowcontrol/bootstrap/default.go")
    print("# at kubernetes-1.20.0 ... kubernetes-1.35.0 by scripts/apf-bootstrap-table.py. Sorted per version.")
    for minor in range(20, 36):
        text = subprocess.run(["git", "-C", repo, "show", f"kubernetes-1.{minor}.0:pkg/apis/flowcontrol/bootstrap/default.go"],
                              check=True, capture_output=True, text=True).stdout
        for line in sorted(render(minor, o) for o in extract(text)):
            print(line)


if __name__ == "__main__":
    main()
