"""The process repository: deploying and validating diagrams, safe XML, Camunda compatibility, trust, migrating instances."""
