"""wwm: the World-Wide-Mind toolkit."""
from setuptools import find_packages, setup

setup(
    name="wwm",
    version="0.1.0",
    description="Put AI Minds and Worlds on the web: file protocol, stock gateway, clients, fungus nodes.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["wwm", "wwm.*"]),
    package_data={"wwm": ["lib/*", "protocol/*.xsd", "knowledge/*.ttl", "gateway/*.md", "**/*.json", "**/*.md"]},
    include_package_data=True,
    install_requires=[
        "flask>=3.0",
        "waitress>=3.0",
        "cryptography>=41",
        "http-message-signatures>=3.0",
        "numpy>=1.24",
        "lxml>=5.0",
        "requests>=2.31",
        "watchdog>=4.0",
    ],
    extras_require={
        "fungus": ["torch==2.13.0", "safetensors>=0.4", "pyarrow>=15", "rdflib>=7.0"],
        "serve": ["gunicorn>=22"],
        # the knowledge graph: embedded Oxigraph through rdflib; `oxigraph` is the SPARQL server CLI
        "knowledge": ["rdflib>=7.0", "pyoxigraph>=0.5,<0.6", "oxrdflib>=0.5,<0.6", "oxigraph>=0.5,<0.6"],
        # Gymnasium both ways (wwm.gym); sb3 only for bench/gym.py. torch stays pinned above.
        "gym": ["gymnasium==1.4.0", "stable-baselines3==2.9.2", "torch==2.13.0"],
        "test": ["pytest>=8", "gunicorn>=22", "playwright>=1.40"],
    },
    entry_points={"console_scripts": ["wwm = wwm.cli:main"]},
)
