; TypeScript and TSX tags: definitions and references.
; Only node types present in both the typescript and the tsx grammars.

(function_declaration
  name: (identifier) @name.definition.function)

(function_signature
  name: (identifier) @name.definition.function)

(generator_function_declaration
  name: (identifier) @name.definition.function)

(class_declaration
  name: (type_identifier) @name.definition.class)

(abstract_class_declaration
  name: (type_identifier) @name.definition.class)

(interface_declaration
  name: (type_identifier) @name.definition.interface)

(type_alias_declaration
  name: (type_identifier) @name.definition.type)

(enum_declaration
  name: (identifier) @name.definition.enum)

(internal_module
  name: (identifier) @name.definition.module)

(method_definition
  name: (property_identifier) @name.definition.method)

(method_signature
  name: (property_identifier) @name.definition.method)

(abstract_method_signature
  name: (property_identifier) @name.definition.method)

(lexical_declaration
  (variable_declarator
    name: (identifier) @name.definition.function
    value: [(arrow_function) (function_expression)]))

(program
  (lexical_declaration
    (variable_declarator
      name: (identifier) @name.definition.constant)))

(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator
        name: (identifier) @name.definition.constant))))

(call_expression
  function: (identifier) @name.reference.call)

(call_expression
  function: (member_expression
    property: (property_identifier) @name.reference.call))

(new_expression
  constructor: (identifier) @name.reference.class)

(extends_clause
  value: (identifier) @name.reference.class)

; every use of a type name: annotations, implements, generics
(type_identifier) @name.reference.type

(import_specifier
  name: (identifier) @name.reference.import)
