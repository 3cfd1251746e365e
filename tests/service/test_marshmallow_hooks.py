"""marshmallow's private ``Schema._hooks``, as service/marshmallow_hooks.py relies on it.

If a marshmallow release registers hooks elsewhere, a schema with a hook would be compiled by
the fast loader (service/fastload.py) and its hook skipped: this fails naming ``_hooks``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, pre_load, validates, validates_schema

from service.marshmallow_hooks import has_hooks


class Plain(Schema):
    a = fields.String()


class WithPreLoad(Plain):
    @pre_load
    def strip(self, data, **kwargs):
        return data


class WithPostLoad(Plain):
    @post_load
    def make(self, data, **kwargs):
        return data


class WithFieldValidator(Plain):
    @validates("a")
    def check(self, value, **kwargs):
        return None


class WithSchemaValidator(Plain):
    @validates_schema
    def check(self, data, **kwargs):
        return None


class Inherited(WithSchemaValidator):
    b = fields.String()


def test_hooks_are_found_in_underscore_hooks():
    assert not has_hooks(Plain())
    for schema in (WithPreLoad, WithPostLoad, WithFieldValidator, WithSchemaValidator,
                   Inherited):
        assert has_hooks(schema()), (
            f"marshmallow: {schema.__name__}'s hook is not registered in Schema._hooks")
