/** Versions of the local stack's JVM services, fetched from Maven Central into `.cache/`. */
export const KAFKA_VERSION = '4.4.0';
export const LOG4J_VERSION = '2.24.3';
export const APICURIO_VERSION = '3.3.3';
/** Apicurio Registry 3.2+ is compiled for Java 21. */
export const APICURIO_MIN_JAVA = 21;
/** Pinned: Maven 3.8.7 defaults to maven-dependency-plugin 2.8, which lacks what we use. */
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
