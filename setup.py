import setuptools

setuptools.setup(setup_requires=['pbr>=5.5.1'], pbr=True)
