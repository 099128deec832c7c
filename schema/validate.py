#!/usr/bin/env python3
"""Validates JSON-lines records against the sensor's schemas.

    validate.py alert|exchange FILE        native records, against
                                           schema/{alert,exchange}.schema.json
    validate.py ocsf FILE                  OCSF records, each against its
                                           class (class_uid) in OCSF 1.5.0

Native: Python's `jsonschema` (Draft 2020-12, formats checked). OCSF: the
official OCSF 1.5.0 schema export packaged by `ocsf-json-schema`, turned
into a JSON Schema per class (with the profiles the record names) and
checked with `jsonschema`. Prints one line per invalid record and exits 1
if any; exits 0 and prints how many records passed otherwise."""

import json
import sys
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
OCSF_VERSION = "1.5.0"


def native_validator(kind):
    schemas = {
        name: json.loads((HERE / f"{name}.schema.json").read_text())
        for name in ("alert", "exchange", "checkpoint")
    }
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values()
    )
    def validator(name):
        schema = schemas[name]
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)

    records = validator(kind)
    # The alerts file seals its hash chain with checkpoint lines.
    checkpoints = validator("checkpoint") if kind == "alert" else None
    return lambda record: (
        checkpoints if checkpoints and "checkpoint" in record else records
    ).iter_errors(record)


def ocsf_validator():
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

    ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))
    cache = {}

    def errors(record):
        if record.get("metadata", {}).get("version") != OCSF_VERSION:
            yield f"metadata.version is not {OCSF_VERSION}"
            return
        profiles = tuple(record["metadata"].get("profiles", []))
        key = (record.get("class_uid"), profiles)
        if key not in cache:
            name = ocsf.lookup_class_name_from_uid(class_uid=record["class_uid"])
            schema = ocsf.get_class_schema(class_name=name, profiles=list(profiles))
            cache[key] = jsonschema.validators.validator_for(schema)(schema)
        yield from cache[key].iter_errors(record)

    return errors


def ocsf_file_validator():
    """An OCSF alerts file: each record carries the file's hash-chain
    envelope (`seq`, `chain`), which is not part of the OCSF record, and
    the file holds checkpoint lines."""
    records = ocsf_validator()
    checkpoints = native_validator("checkpoint")

    def errors(record):
        if "checkpoint" in record:
            yield from checkpoints(record)
            return
        record = {k: v for k, v in record.items() if k not in ("seq", "chain")}
        yield from records(record)

    return errors


def main():
    kind, path = sys.argv[1], sys.argv[2]
    validate = ocsf_file_validator() if kind == "ocsf" else native_validator(kind)
    bad = 0
    lines = [l for l in Path(path).read_text().splitlines() if l.strip()]
    for n, line in enumerate(lines, 1):
        for error in validate(json.loads(line)):
            bad += 1
            where = "/".join(str(p) for p in getattr(error, "absolute_path", []))
            message = getattr(error, "message", error)
            print(f"{path}:{n}: {where}: {message}")
    if bad or not lines:
        print(f"{bad} errors in {len(lines)} records")
        sys.exit(1)
    print(f"{len(lines)} records valid")


if __name__ == "__main__":
    main()
