export { createRedis, InjectRedis, REDIS, RedisModule } from './redis.module.js';
