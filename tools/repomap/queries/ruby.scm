; Ruby tags: definitions and references.

(class
  name: (constant) @name.definition.class)

(class
  name: (scope_resolution
    name: (constant) @name.definition.class))

(module
  name: (constant) @name.definition.module)

(module
  name: (scope_resolution
    name: (constant) @name.definition.module))

(method
  name: (_) @name.definition.method)

(singleton_method
  name: (_) @name.definition.method)

(assignment
  left: (constant) @name.definition.constant)

(call
  method: (identifier) @name.reference.call)

; every use of a constant: superclasses, Foo.new, Foo::Bar, include Mixin
(constant) @name.reference.class
