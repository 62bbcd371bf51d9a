"""Validates KServe documents (InferenceService, ServingRuntime) against the schema KServe's own SDK
carries: the PyPI `kserve` package's models are generated from KServe's OpenAPI specification
(`openapi_types`, `attribute_map`), and their Kubernetes parts come from the `kubernetes` client's
models. Strict: every field must exist in the schema with the right type, and the SDK's constructors
and validators must accept each part (required fields included).

Runs in the `kserve` virtual environment (`.venv/kserve`, made by `make setup`; KServe's
packages clash with MLServer's and tritonclient's in one interpreter):

    .venv/kserve/bin/python tests/python/kserve_validate.py deploy/kubernetes.yaml

Prints one line per KServe document and exits 1 at the first error, saying where.
"""

import importlib.metadata
import re
import sys

import kserve.models
import kubernetes.client.models
import yaml

KINDS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): "V1alpha1ClusterServingRuntime",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


class SchemaError(Exception):
    pass


def model(name):
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    raise SchemaError(f"the schema names a type `{name}` that neither SDK has")


def check(value, type_name, where):
    """Checks `value` against `type_name` and returns it built as the SDK's objects (their
    constructors and validators enforce required fields)."""
    if type_name == "object":
        return value
    m = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected a list, found {type(value).__name__}")
        return [check(item, m[1], f"{where}[{i}]") for i, item in enumerate(value)]
    m = re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", type_name)
    if m:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected a mapping, found {type(value).__name__}")
        return {k: check(v, m[1] or m[2], f"{where}.{k}") for k, v in value.items()}
    if type_name in PRIMITIVES:
        if isinstance(value, bool) and type_name != "bool" or not isinstance(value, PRIMITIVES[type_name]):
            raise SchemaError(f"{where}: expected {type_name}, found {type(value).__name__} {value!r}")
        return value
    cls = model(type_name)
    if not isinstance(value, dict):
        raise SchemaError(f"{where}: expected a {type_name} mapping, found {type(value).__name__}")
    by_key = {key: attr for attr, key in cls.attribute_map.items()}
    built = {}
    for key, v in value.items():
        if key not in by_key:
            known = ", ".join(sorted(by_key))
            raise SchemaError(f"{where}.{key}: not a field of {type_name} (fields: {known})")
        built[by_key[key]] = check(v, cls.openapi_types[by_key[key]], f"{where}.{key}")
    try:
        if hasattr(cls, "model_validate"):  # the kubernetes client's models (pydantic)
            return cls.model_validate(value)
        return cls(**built)  # KServe's models: setters refuse missing required fields
    except (ValueError, TypeError) as e:
        raise SchemaError(f"{where}: {type_name}: {e}") from e


def validate(doc):
    """Validates one document if it is a KServe kind; returns the kind's model name, or None."""
    name = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    if name is None:
        return None
    check(doc, name, doc["kind"])
    return name


def main(paths):
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            try:
                name = validate(doc)
            except SchemaError as e:
                print(f"error: {path}: {e}")
                return 1
            if name:
                print(f"{path}: {doc['kind']} {doc['metadata']['name']}: valid ({name}, kserve {importlib.metadata.version('kserve')})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
