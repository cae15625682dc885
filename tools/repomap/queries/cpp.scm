; C++ tags: definitions and references.

(function_definition
  declarator: (function_declarator
    declarator: (identifier) @name.definition.function))

(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (identifier) @name.definition.function)))

(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (identifier) @name.definition.function)))

; out-of-class method definitions: void Foo::bar() {...}
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier
      name: (identifier) @name.definition.method)))

(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (qualified_identifier
        name: (identifier) @name.definition.method))))

(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (qualified_identifier
        name: (identifier) @name.definition.method))))

; in-class method definitions and declarations
(function_definition
  declarator: (function_declarator
    declarator: (field_identifier) @name.definition.method))

(field_declaration
  declarator: (function_declarator
    declarator: (field_identifier) @name.definition.method))

(declaration
  declarator: (function_declarator
    declarator: (identifier) @name.definition.function))

(class_specifier
  name: (type_identifier) @name.definition.class
  body: (_))

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

(alias_declaration
  name: (type_identifier) @name.definition.type)

(namespace_definition
  name: (namespace_identifier) @name.definition.module)

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

(call_expression
  function: (qualified_identifier
    name: (identifier) @name.reference.call))

(call_expression
  function: (template_function
    name: (identifier) @name.reference.call))

; every use of a type name: members, params, bases, templates
(type_identifier) @name.reference.type
