"""The simulated grasp cell composed in code on the shipped SO-101 model: table, red cube,
lighting, a wrist camera fixed on the gripper like the real mount, and decimated meshes.

World frame = the arm's base frame; the table top is z = 0 (the base sits on it).
"""
import mujoco
import numpy as np

from so101_description.cameras import FRONT_CAMERA, WRIST_CAMERA
from so101_description.model import load_spec, model_xml_path
from so101_sim.config import CellConfig
from so101_sim.meshes import decimated_mesh

CUBE_BODY = 'cube'
CUBE_GEOM = 'cube'
TABLE_GEOM = 'table'
FIXED_JAW_BODY = 'gripper'              # the fixed jaw is part of the gripper body
MOVING_JAW_BODY = 'moving_jaw_so101_v1'
JAW_PADS = ('fixed_jaw_pad', 'moving_jaw_pad')

# Wrist camera on the gripper body, like the usual SO-101 wrist mount: beside the fixed jaw,
# looking past it towards a point just beyond the jaw tips (the body's -z is the approach
# direction), so the fixed jaw sits at the bottom-left of the image and the cube ahead of it.
_CAMERA_POS = np.array([0.0, 0.045, -0.04])
_CAMERA_LOOK_AT = np.array([0.005, 0.0, -0.13])


def build_spec(config: CellConfig) -> mujoco.MjSpec:
    spec = load_spec(with_meshes=True)
    _decimate_meshes(spec, config.mesh_keep_fraction, config.mesh_cluster_m)
    _enable_jaw_pads(spec)
    _set_physics_and_rendering(spec, config)
    _add_table_and_lights(spec)
    _add_cube(spec, config)
    _add_wrist_camera(spec, config)
    _add_front_camera(spec, config)
    return spec


def build_model(config: CellConfig) -> mujoco.MjModel:
    return build_spec(config).compile()


def _decimate_meshes(spec: mujoco.MjSpec, keep_fraction: float, cluster_m: float) -> None:
    mesh_dir = model_xml_path().parent / (spec.meshdir or '')
    for mesh in spec.meshes:
        vertices, faces = decimated_mesh(mesh_dir / mesh.file, keep_fraction, cluster_m)
        mesh.file = ''
        mesh.uservert = vertices.astype(np.float32).reshape(-1)
        mesh.userface = faces.astype(np.int32).reshape(-1)


def _enable_jaw_pads(spec: mujoco.MjSpec) -> None:
    """The jaw meshes collide as convex hulls, which touch a cube at one point each; the
    shipped fingertip pads (inert by default) give the grasp flat faces."""
    for name in JAW_PADS:
        pad = spec.geom(name)
        pad.contype = 1
        pad.conaffinity = 1
        pad.friction = [1.5, 0.02, 0.002]
        pad.condim = 4


def _set_physics_and_rendering(spec: mujoco.MjSpec, config: CellConfig) -> None:
    spec.option.timestep = config.physics_timestep_s
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.noslip_iterations = 3  # holds the cube without creeping out of the jaws
    # Shadows and multisampling cost ~10x render time on a CPU for nothing the policy needs.
    spec.visual.quality.shadowsize = 0
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offwidth = max(config.image_width, 640)
    spec.visual.global_.offheight = max(config.image_height, 480)
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.3, 0.3, 0.3]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]


def _add_table_and_lights(spec: mujoco.MjSpec) -> None:
    world = spec.worldbody
    spec.add_texture(name='table', type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                     rgb1=[0.62, 0.58, 0.52], rgb2=[0.58, 0.54, 0.48])
    spec.add_material(name='table', textures=['', 'table'], texrepeat=[8, 8],
                      texuniform=True, reflectance=0.0)
    world.add_geom(name=TABLE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.35, 0.35, 0.02],
                   pos=[0.2, 0.0, -0.02], material='table', friction=[1.0, 0.01, 0.001])
    world.add_light(name='ceiling', pos=[0.25, 0.0, 1.0], dir=[0.0, 0.0, -1.0],
                    diffuse=[0.7, 0.7, 0.7], specular=[0.1, 0.1, 0.1], castshadow=False,
                    type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    world.add_light(name='side', pos=[0.3, -0.6, 0.5], dir=[0.0, 1.0, -0.6],
                    diffuse=[0.3, 0.3, 0.3], specular=[0.0, 0.0, 0.0], castshadow=False,
                    type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    world.add_camera(name='overview', pos=[0.65, -0.35, 0.4],
                     xyaxes=[0.5, 0.87, 0, -0.4, 0.23, 0.89], fovy=50)


def _add_cube(spec: mujoco.MjSpec, config: CellConfig) -> None:
    half = config.cube_size_m / 2
    cube = spec.worldbody.add_body(name=CUBE_BODY, pos=[0.25, 0.0, half])
    cube.add_freejoint(name=CUBE_BODY)
    cube.add_geom(name=CUBE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3,
                  mass=config.cube_mass_kg, rgba=[0.8, 0.08, 0.06, 1.0],
                  friction=[1.2, 0.02, 0.002], condim=4)


def _add_wrist_camera(spec: mujoco.MjSpec, config: CellConfig) -> None:
    backwards = _CAMERA_POS - _CAMERA_LOOK_AT   # camera z: MuJoCo cameras look along -z
    backwards /= np.linalg.norm(backwards)
    # Image x across the jaws' plane, image y towards the jaw tips' far side (body -z), so the
    # table is at the top of the frame as in the real mount's images.
    x_axis = -np.cross([0.0, 0.0, 1.0], backwards)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(backwards, x_axis)
    spec.body(FIXED_JAW_BODY).add_camera(name=WRIST_CAMERA, pos=_CAMERA_POS.tolist(),
                                         xyaxes=[*x_axis, *y_axis], fovy=config.camera_fovy_deg)


def _add_front_camera(spec: mujoco.MjSpec, config: CellConfig) -> None:
    """A fixed camera in front of the workspace, looking down at it over the table: the view
    that shows how high the cube is, which the wrist camera cannot."""
    position = np.asarray(config.front_camera_position, dtype=float)
    backwards = position - np.asarray(config.front_camera_look_at, dtype=float)
    backwards /= np.linalg.norm(backwards)
    x_axis = np.cross([0.0, 0.0, 1.0], backwards)  # image x horizontal
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(backwards, x_axis)
    spec.worldbody.add_camera(name=FRONT_CAMERA, pos=position.tolist(),
                              xyaxes=[*x_axis, *y_axis], fovy=config.front_camera_fovy_deg)
