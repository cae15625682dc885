; Java tags: definitions and references.

(class_declaration
  name: (identifier) @name.definition.class)

(record_declaration
  name: (identifier) @name.definition.class)

(interface_declaration
  name: (identifier) @name.definition.interface)

(annotation_type_declaration
  name: (identifier) @name.definition.interface)

(enum_declaration
  name: (identifier) @name.definition.enum)

(method_declaration
  name: (identifier) @name.definition.method)

(constructor_declaration
  name: (identifier) @name.definition.method)

(method_invocation
  name: (identifier) @name.reference.call)

(object_creation_expression
  type: (type_identifier) @name.reference.class)

; every use of a type name: fields, params, extends/implements, generics
(type_identifier) @name.reference.type
