"""Built-in colourisation methods, installed as ``colorbench.methods``.

Each file here holds one method class registered with ``@colorbench.register_method``; the registry imports every
module in this package, so adding a method is adding a file (see docs/adding-a-method.md). A method imports only
the core (``colorbench.*``), never another method.
"""
