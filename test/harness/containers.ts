import { APICURIO_VERSION, KAFKA_VERSION } from '../../src/devstack/versions.ts';

/**
 * Starts Apache Kafka and Apicurio Registry as containers when a container runtime answers (for users with
 * Docker); returns undefined when none does, so the caller falls back to the local JVM stack.
 */
export async function startContainerStack(): Promise<{ env: Record<string, string>; stop: () => Promise<void> } | undefined> {
  const tc = await import('testcontainers');
  try {
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  console.log('container runtime found: starting Kafka and Apicurio Registry containers');
  const kafka = await new tc.GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
    .withExposedPorts({ container: 9092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new tc.GenericContainer(`apicurio/apicurio-registry:${APICURIO_VERSION}`)
    .withExposedPorts(8080)
    .withEnvironment({ APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD' })
    .withWaitStrategy(tc.Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
    .start();
  return {
    env: {
      KAFKA_BROKERS: `127.0.0.1:19092`,
      SCHEMA_REGISTRY_URL: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
    },
    stop: async () => {
      await Promise.all([kafka.stop(), registry.stop()]);
    },
  };
}
