#!/usr/bin/env python3
"""Check what `omvdev vscode --stdout` printed against the properties Cortex-Debug, VS Code and
the recommended extensions declare (vscode-schema.json beside this file).

usage: check_schema.py SCHEMA FILE...   (each FILE one --stdout document of all four files)
Prints one line per violation and exits 1 when there is any; prints the servertypes and
requests it saw, so the caller can check the coverage."""
import json
import sys

TYPES = {"string": str, "boolean": bool, "number": (int, float), "array": list, "object": dict}


def type_ok(value, decl):
    if isinstance(decl, list):
        return isinstance(value, str) and value in decl
    return any(isinstance(value, TYPES[t]) and not (t == "number" and isinstance(value, bool))
               for t in decl.split("|"))


def check_object(obj, allowed, where, errors):
    for key, value in obj.items():
        if key not in allowed:
            errors.append(f"{where}: property '{key}' is not declared")
        elif not type_ok(value, allowed[key]):
            errors.append(f"{where}: '{key}' is {json.dumps(value)}, not {allowed[key]}")


def check(doc, schema, errors, seen):
    launch = doc.get(".vscode/launch.json", {})
    for c in launch.get("configurations", []):
        req = c.get("request")
        allowed = dict(schema["vscode_launch"], **schema["common"])
        allowed.update(schema["launch_only"] if req == "launch" else schema["attach_only"])
        where = f"launch.json '{c.get('name')}'"
        if c.get("type") != "cortex-debug":
            errors.append(f"{where}: type is not cortex-debug")
        check_object(c, allowed, where, errors)
        rtt = c.get("rttConfig")
        if isinstance(rtt, dict):
            check_object(rtt, schema["rttConfig"], where + " rttConfig", errors)
            for d in rtt.get("decoders", []):
                check_object(d, schema["rtt_decoder"], where + " rttConfig decoder", errors)
        seen.add((c.get("servertype"), req))
    for t in doc.get(".vscode/tasks.json", {}).get("tasks", []):
        where = f"tasks.json '{t.get('label')}'"
        check_object(t, schema["vscode_task"], where, errors)
        if isinstance(t.get("options"), dict):
            check_object(t["options"], schema["vscode_task_options"], where + " options", errors)
    check_object(doc.get(".vscode/settings.json", {}), schema["settings"], "settings.json", errors)


def main():
    schema = json.load(open(sys.argv[1]))
    errors, seen = [], set()
    for path in sys.argv[2:]:
        before = len(errors)
        check(json.load(open(path)), schema, errors, seen)
        errors[before:] = [f"{path}: {e}" for e in errors[before:]]
    for e in errors:
        print(e)
    for s in sorted(seen, key=str):
        print("seen", s[0], s[1])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
