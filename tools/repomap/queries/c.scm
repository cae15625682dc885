; C tags: definitions and references.

(function_definition
  declarator: (function_declarator
    declarator: (identifier) @name.definition.function))

(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (identifier) @name.definition.function)))

; prototypes (headers are where a C API is declared)
(declaration
  declarator: (function_declarator
    declarator: (identifier) @name.definition.function))

(declaration
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (identifier) @name.definition.function)))

(struct_specifier
  name: (type_identifier) @name.definition.class
  body: (_))

(union_specifier
  name: (type_identifier) @name.definition.class
  body: (_))

(enum_specifier
  name: (type_identifier) @name.definition.type
  body: (_))

(type_definition
  declarator: (type_identifier) @name.definition.type)

(enumerator
  name: (identifier) @name.definition.constant)

(preproc_def
  name: (identifier) @name.definition.macro)

(preproc_function_def
  name: (identifier) @name.definition.macro)

(call_expression
  function: (identifier) @name.reference.call)

(call_expression
  function: (field_expression
    field: (field_identifier) @name.reference.call))

; every use of a type name: struct tags, typedef names
(type_identifier) @name.reference.type
