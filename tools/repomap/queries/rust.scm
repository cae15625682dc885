; Rust tags: definitions and references.

(struct_item
  name: (type_identifier) @name.definition.class)

(enum_item
  name: (type_identifier) @name.definition.class)

(union_item
  name: (type_identifier) @name.definition.class)

(trait_item
  name: (type_identifier) @name.definition.interface)

(type_item
  name: (type_identifier) @name.definition.type)

; `impl Foo` / `impl Trait for Foo`: the block where Foo's methods live
(impl_item
  type: (type_identifier) @name.definition.impl)

(function_item
  name: (identifier) @name.definition.function)

(function_signature_item
  name: (identifier) @name.definition.function)

(mod_item
  name: (identifier) @name.definition.module)

(macro_definition
  name: (identifier) @name.definition.macro)

(const_item
  name: (identifier) @name.definition.constant)

(static_item
  name: (identifier) @name.definition.constant)

(call_expression
  function: (identifier) @name.reference.call)

(call_expression
  function: (field_expression
    field: (field_identifier) @name.reference.call))

(call_expression
  function: (scoped_identifier
    name: (identifier) @name.reference.call))

(macro_invocation
  macro: (identifier) @name.reference.call)

; every use of a type name: fields, params, impl targets, generics
(type_identifier) @name.reference.type
