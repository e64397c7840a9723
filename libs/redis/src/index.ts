export { clusterNodes, createCluster, createRedis, getEach, hashTag, InjectRedis, isCluster, queueConnection, REDIS, RedisModule, type RedisClient } from './redis.module.js';
