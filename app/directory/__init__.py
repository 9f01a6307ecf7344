"""One list, two directories (一单两库): check items, entities, inspectors, departments."""
