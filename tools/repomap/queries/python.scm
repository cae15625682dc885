; Python tags: definitions and references.

(class_definition
  name: (identifier) @name.definition.class)

(function_definition
  name: (identifier) @name.definition.function)

; module-level constants and aliases: FOO = ..., Alias = Other
; (this grammar version hides expression_statement in the tree)
(module
  (assignment
    left: (identifier) @name.definition.constant))

(call
  function: (identifier) @name.reference.call)

(call
  function: (attribute
    attribute: (identifier) @name.reference.call))

(decorator
  (identifier) @name.reference.call)

(decorator
  (attribute
    attribute: (identifier) @name.reference.call))

; base classes: class A(B, mod.C)
(class_definition
  superclasses: (argument_list
    (identifier) @name.reference.class))

(class_definition
  superclasses: (argument_list
    (attribute
      attribute: (identifier) @name.reference.class)))

; from x import A, B as C
(import_from_statement
  name: (dotted_name
    (identifier) @name.reference.import))

(import_from_statement
  name: (aliased_import
    name: (dotted_name
      (identifier) @name.reference.import)))

; annotations: x: Foo, def f(a: Foo) -> Bar
(type
  (identifier) @name.reference.type)
